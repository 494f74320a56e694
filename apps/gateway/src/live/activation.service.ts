import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { SessionId, TenantId } from '@app/common';
import { TenantRegistry, type SessionRow } from '@app/persistence';
import { PodiumClient } from '@app/podium';
import { DomainError } from '@app/protocol';
import type { AllConfig } from '../config';
import type { ActiveSession } from './active-session';
import { AgentLink } from './agent-link';
import { EventPublisher } from './event-publisher';
import { LiveSessions } from './live-sessions';
import { isLive, pathToActivation } from './session-state';
import { SessionStates } from './session-states.service';
import { Teardown } from './teardown.service';

/** Activation: create the agent instance, open its event stream, `ready`. */
@Injectable()
export class Activation {
  private readonly logger = new Logger(Activation.name);
  private readonly timeoutMs: number;

  constructor(
    config: ConfigService<AllConfig, true>,
    private readonly live: LiveSessions,
    private readonly registry: TenantRegistry,
    private readonly podium: PodiumClient,
    private readonly publisher: EventPublisher,
    private readonly states: SessionStates,
    private readonly link: AgentLink,
    private readonly teardown: Teardown,
  ) {
    this.timeoutMs = config.get('app', { infer: true }).sessions.activationTimeoutMs;
  }

  /**
   * Brings a session to a live state: an inactive (or failed) session is activated; a session being
   * activated is waited for. Throws AGENT_UNAVAILABLE when the agent cannot be started, and
   * TOO_MANY_ACTIVE_SESSIONS (Podium not asked) when the tenant has its cap of live agents.
   * With `mayStart` false (a viewer), only a live session, or one whose activation is already under way,
   * is answered; otherwise FORBIDDEN.
   */
  ensureLive(
    tenantId: TenantId,
    row: SessionRow & { id: SessionId },
    mayStart = true,
  ): Promise<ActiveSession> {
    const current = this.live.get(row.id);
    if (current && isLive(current.state)) return Promise.resolve(current);
    return this.live.lock(row.id, () => this.activate(tenantId, row, mayStart));
  }

  private async activate(
    tenantId: TenantId,
    row: SessionRow & { id: SessionId },
    mayStart: boolean,
  ): Promise<ActiveSession> {
    const active = this.live.get(row.id);
    if (active && isLive(active.state)) return active;
    if (!mayStart) {
      throw new DomainError('FORBIDDEN', 'The session is not active, and your role cannot start its agent');
    }
    // The slot is taken before the first await: concurrent starts at the cap cannot both pass.
    let giveBack: () => void;
    try {
      giveBack = this.live.quota.take(tenantId, row.id);
    } catch (err) {
      this.logger.warn(`tenant ${tenantId}: start of session ${row.id} refused, live agent cap reached`);
      throw err;
    }
    try {
      return await this.start(tenantId, row, active);
    } finally {
      giveBack();
    }
  }

  private async start(
    tenantId: TenantId,
    row: SessionRow & { id: SessionId },
    existing: ActiveSession | undefined,
  ): Promise<ActiveSession> {
    let active = existing;
    if (!active) {
      active = this.live.open(tenantId, row.id, row.agentType);
      await this.publisher.initSeq(active, Number(row.lastSeq ?? 0));
      this.live.add(active);
    }
    const path = pathToActivation(active.state);
    if (!path) throw new DomainError('INVALID_STATE', `Session is ${active.state}`);
    for (const step of path) this.states.set(active, step);

    try {
      const created = await withTimeout(
        this.podium.createInstance({ agentType: row.agentType, agentId: row.id }),
        this.timeoutMs,
      );
      const instanceId = created.instanceId;
      active.attachInstance(instanceId);
      void this.registry.updateSession(tenantId, row.id, { instanceId }).catch(() => undefined);
      const connection = await withTimeout(this.podium.connect(instanceId), this.timeoutMs);
      this.link.attach(active, connection);
      this.states.set(active, 'ready');
      this.logger.log(`session ${row.id} active on instance ${instanceId}`);
      return active;
    } catch (err) {
      this.logger.warn(`activation of session ${row.id} failed: ${(err as Error).message}`);
      this.states.trySet(active, 'error', 'activation failed');
      void this.teardown.stopAgent(active, false);
      throw new DomainError('AGENT_UNAVAILABLE', 'The agent could not be started');
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
