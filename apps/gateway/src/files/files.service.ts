import { Injectable } from '@nestjs/common';
import type { AuthIdentity } from '@app/auth';
import { isPodiumError, PodiumClient } from '@app/podium';
import { DomainError, type FileContentEvent, type FileHistoryEvent, type FileListEvent } from '@app/protocol';
import { canStartAgent } from '../live/agent-quota';
import { Activation } from '../live/activation.service';
import { SessionsService } from '../sessions/sessions.service';

/**
 * The session's workspace files, read through Podium (never cached locally). An inactive session is
 * activated first, unless the caller may not start agents (viewers read files of live sessions only);
 * paths that climb out of the workspace are refused before any request.
 */
@Injectable()
export class FilesService {
  constructor(
    private readonly sessions: SessionsService,
    private readonly activation: Activation,
    private readonly podium: PodiumClient,
  ) {}

  async list(identity: AuthIdentity, sessionId: string, path = '/', depth = 1): Promise<FileListEvent> {
    return this.withInstance(identity, sessionId, async (id, instanceId) => ({
      type: 'file_list',
      sessionId: id,
      path,
      entries: await this.podium.listFiles(instanceId, path, depth),
    }));
  }

  async read(identity: AuthIdentity, sessionId: string, path: string): Promise<FileContentEvent> {
    return this.withInstance(identity, sessionId, async (id, instanceId) => ({
      type: 'file_content',
      sessionId: id,
      ...(await this.podium.readFile(instanceId, path)),
    }));
  }

  async history(identity: AuthIdentity, sessionId: string, path: string): Promise<FileHistoryEvent> {
    return this.withInstance(identity, sessionId, async (id, instanceId) => ({
      type: 'file_history',
      sessionId: id,
      path,
      iterations: await this.podium.fileHistory(instanceId, path),
    }));
  }

  async atIteration(
    identity: AuthIdentity,
    sessionId: string,
    path: string,
    iteration: number,
  ): Promise<FileContentEvent> {
    return this.withInstance(identity, sessionId, async (id, instanceId) => ({
      type: 'file_content',
      sessionId: id,
      ...(await this.podium.fileAtIteration(instanceId, path, iteration)),
      iteration,
    }));
  }

  private async withInstance<T>(
    identity: AuthIdentity,
    sessionId: string,
    fn: (id: string, instanceId: string) => Promise<T>,
  ): Promise<T> {
    const row = await this.sessions.require(identity.tenantId, sessionId);
    const active = await this.activation.ensureLive(identity.tenantId, row, canStartAgent(identity.role));
    if (!active.instanceId) throw new DomainError('AGENT_UNAVAILABLE');
    try {
      return await fn(row.id, active.instanceId);
    } catch (err) {
      if (err instanceof DomainError) throw err;
      if (isPodiumError(err)) throw new DomainError('UPSTREAM_ERROR', 'The workspace could not be read');
      throw err;
    }
  }
}
