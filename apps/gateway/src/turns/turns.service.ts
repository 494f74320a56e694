import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { AuthIdentity } from '@app/auth';
import { SessionStore } from '@app/persistence';
import { processMessage } from '@app/podium';
import { DomainError } from '@app/protocol';
import type { Connection } from '../connection/connection';
import { EventPublisher } from '../live/event-publisher';
import type { ActiveSession } from '../live/active-session';
import { Activation } from '../live/activation.service';
import { LiveSessions } from '../live/live-sessions';
import { TurnWatchdog } from '../live/turn-watchdog';
import { SessionStates } from '../live/session-states.service';
import { SessionsService } from '../sessions/sessions.service';
import { TurnBilling } from '../live/turn-billing';

/**
 * run_turn (docs/protocol.md §8): credits reserved, the agent made live, the turn opened and dispatched.
 * The requester gets `turn_started` in stream order, with its requestId; every other viewer gets it on
 * the session topic. What is done to an open turn (stop, steer, answer) is `TurnControl`'s.
 */
@Injectable()
export class TurnsService {
  constructor(
    private readonly sessions: SessionsService,
    private readonly live: LiveSessions,
    private readonly activation: Activation,
    private readonly states: SessionStates,
    private readonly publisher: EventPublisher,
    private readonly store: SessionStore,
    private readonly billing: TurnBilling,
    private readonly watchdog: TurnWatchdog,
  ) {}

  async run(
    conn: Connection,
    identity: AuthIdentity,
    sessionId: string,
    text: string,
    clientTurnId?: string,
    requestId?: string,
  ): Promise<void> {
    const row = await this.sessions.require(identity.tenantId, sessionId);
    if (row.archived) throw new DomainError('SESSION_ARCHIVED');
    const current = this.live.get(row.id);
    if (current?.turn || current?.state === 'running' || current?.state === 'waiting')
      throw new DomainError('TURN_IN_PROGRESS');
    // Credits first: INSUFFICIENT_CREDITS is answered before Podium is contacted at all.
    const ref = { tenantId: identity.tenantId, sessionId: row.id };
    const turnId = randomUUID();
    const reservationId = await this.billing.reserve(ref, turnId, identity.userId);
    let active: ActiveSession;
    try {
      active = await this.activation.ensureLive(identity.tenantId, row);
    } catch (err) {
      await this.billing.release(ref, { id: turnId, reservationId });
      throw err;
    }
    if (active.turn || active.state !== 'ready' || !active.podium) {
      await this.billing.release(ref, { id: turnId, reservationId });
      const busy = active.turn || active.state === 'running' || active.state === 'waiting';
      throw new DomainError(busy ? 'TURN_IN_PROGRESS' : 'INVALID_STATE');
    }
    // From here on nothing awaits: the turn slot is claimed and used in one go.
    const turn = {
      id: turnId,
      startedAt: Date.now(),
      userId: identity.userId,
      clientTurnId,
      text: '',
      thinking: '',
      reservationId,
    };
    active.beginTurn(turn);

    const base = { sessionId: active.sessionId, turnId: turn.id };
    this.store.appendMessage(active.sessionId, {
      turnId: turn.id,
      role: 'user',
      content: text,
      metadata: null,
      userId: identity.userId,
      createdAt: turn.startedAt,
    });
    this.publisher.publish(active, { type: 'user_message', ...base, text, userId: identity.userId });
    this.states.set(active, 'running');
    this.publisher.publish(
      active,
      { type: 'turn_started', ...base, ...(clientTurnId ? { clientTurnId } : {}), text },
      { directTo: conn, requestId },
    );
    this.watchdog.dispatch(active, processMessage(text, turn.id), `turn ${turn.id}`);
  }
}
