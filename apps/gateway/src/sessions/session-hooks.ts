import { Injectable } from '@nestjs/common';
import type { SessionDeletedEvent, SessionState } from '@app/protocol';

/**
 * What session metadata changes need from the live side (activation state, tear-down). The live
 * session manager registers itself here; without it, sessions are metadata only.
 */
export interface LiveSessionPort {
  liveStatus(sessionId: string): SessionState | undefined;
  beforeArchive(tenantId: string, sessionId: string): Promise<void>;
  beforeDelete(tenantId: string, sessionId: string, event: SessionDeletedEvent): Promise<void>;
}

@Injectable()
export class SessionHooks implements LiveSessionPort {
  private port?: LiveSessionPort;

  register(port: LiveSessionPort): void {
    this.port = port;
  }

  liveStatus(sessionId: string): SessionState | undefined {
    return this.port?.liveStatus(sessionId);
  }

  async beforeArchive(tenantId: string, sessionId: string): Promise<void> {
    await this.port?.beforeArchive(tenantId, sessionId);
  }

  async beforeDelete(tenantId: string, sessionId: string, event: SessionDeletedEvent): Promise<void> {
    await this.port?.beforeDelete(tenantId, sessionId, event);
  }
}
