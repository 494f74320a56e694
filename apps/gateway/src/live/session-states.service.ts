import { Injectable, Logger } from '@nestjs/common';
import { TenantRegistry } from '@app/persistence';
import { DomainError, type SessionState } from '@app/protocol';
import { EventPublisher } from './event-publisher';
import type { ActiveSession } from './active-session';
import { transition } from './session-state';

/**
 * Applies state changes to an active session: checked against the guard map, published as
 * `session_state` (session and tenant topics), and persisted to the registry row.
 */
@Injectable()
export class SessionStates {
  private readonly logger = new Logger(SessionStates.name);

  constructor(
    private readonly publisher: EventPublisher,
    private readonly registry: TenantRegistry,
  ) {}

  /** Moves the session to `to`; an illegal transition is refused with INVALID_STATE and changes nothing. */
  set(active: ActiveSession, to: SessionState, reason?: string): void {
    const t = transition(active.state, to);
    if (!t.ok) {
      this.logger.warn(`refused transition ${t.from} → ${t.to} for session ${active.sessionId}`);
      throw new DomainError('INVALID_STATE', `Session is ${t.from}`);
    }
    if (!t.changed) return;
    active.enter(to);
    this.publisher.publish(active, {
      type: 'session_state',
      sessionId: active.sessionId,
      state: to,
      previousState: t.from,
      ...(reason ? { reason } : {}),
    });
    void this.registry
      .updateSession(active.tenantId, active.sessionId, { status: to, updatedAt: Date.now() })
      .catch((err: Error) =>
        this.logger.error(`persisting status of ${active.sessionId} failed: ${err.message}`),
      );
  }

  /** Like `set`, but a refused transition is only logged (agent-driven changes). */
  trySet(active: ActiveSession, to: SessionState, reason?: string): boolean {
    try {
      this.set(active, to, reason);
      return true;
    } catch {
      return false;
    }
  }
}
