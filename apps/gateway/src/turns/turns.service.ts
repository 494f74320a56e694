import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AuthIdentity } from '@app/auth';
import { SessionStore } from '@app/persistence';
import {
  answerQuestionMessage,
  interruptMessage,
  permissionResponse,
  processMessage,
  steerMessage,
} from '@app/podium';
import { DomainError, type AnswerQuestionMessage } from '@app/protocol';
import type { AllConfig, AppConfig } from '../config';
import type { Connection } from '../connection/connection';
import { EventPublisher } from '../events/event-publisher';
import type { ActiveSession } from '../sessions/active-session';
import { SessionRuntime } from '../sessions/session-runtime.service';
import { SessionStates } from '../sessions/session-states.service';
import { SessionsService } from '../sessions/sessions.service';
import { TurnBilling } from './turn-billing';
import { TurnFinisher } from './turn-finisher.service';

/**
 * run_turn, stop_turn, steer and answer_question (docs/protocol.md §8). The requester gets the event
 * that answers it (`turn_started`, `turn_stopped`, `steer_sent`, `approval_resolved`) in stream order,
 * with its requestId; every other viewer gets it on the session topic.
 */
@Injectable()
export class TurnsService {
  private readonly logger = new Logger(TurnsService.name);
  private readonly cfg: AppConfig;

  constructor(
    private readonly sessions: SessionsService,
    private readonly runtime: SessionRuntime,
    private readonly states: SessionStates,
    private readonly publisher: EventPublisher,
    private readonly finisher: TurnFinisher,
    private readonly store: SessionStore,
    private readonly billing: TurnBilling,
    config: ConfigService<AllConfig, true>,
  ) {
    this.cfg = config.get('app', { infer: true });
  }

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
    const current = this.runtime.get(row.id);
    if (current?.turn || current?.state === 'running' || current?.state === 'waiting')
      throw new DomainError('TURN_IN_PROGRESS');
    // Credits first: INSUFFICIENT_CREDITS is answered before Podium is contacted at all.
    const ref = { tenantId: identity.tenantId, sessionId: row.id };
    const turnId = randomUUID();
    const reservationId = await this.billing.reserve(ref, turnId, identity.userId);
    let active: ActiveSession;
    try {
      active = await this.runtime.ensureLive(identity.tenantId, row);
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
    active.turn = turn;

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
    try {
      active.podium.send(processMessage(text, turn.id));
      this.runtime.armStallTimer(active);
    } catch (err) {
      this.logger.warn(`dispatching turn ${turn.id} failed: ${(err as Error).message}`);
      this.runtime.fail(active, 'AGENT_UNAVAILABLE', 'The agent could not be reached');
    }
  }

  stop(
    conn: Connection,
    identity: AuthIdentity,
    sessionId: string,
    turnId?: string,
    requestId?: string,
  ): Promise<void> {
    return this.withOpenTurn(identity, sessionId, turnId, (active) => {
      const turn = active.turn!;
      if (turn.stopRequest) {
        // A second stop: answered when the first completes.
        turn.stopRequest = { conn, requestId };
        return;
      }
      turn.stopRequest = { conn, requestId };
      try {
        active.podium?.send(interruptMessage(turn.id));
      } catch {
        this.finisher.finish(active, { kind: 'stopped' });
        return;
      }
      turn.stopTimer = setTimeout(() => {
        if (active.turn === turn) this.finisher.finish(active, { kind: 'stopped' });
      }, this.cfg.sessions.stopTurnGraceMs);
      turn.stopTimer.unref();
    });
  }

  steer(
    conn: Connection,
    identity: AuthIdentity,
    sessionId: string,
    text: string,
    turnId?: string,
    requestId?: string,
  ): Promise<void> {
    return this.withOpenTurn(identity, sessionId, turnId, (active) => {
      const turn = active.turn!;
      active.podium?.send(steerMessage(text, turn.id));
      this.store.appendMessage(active.sessionId, {
        turnId: turn.id,
        role: 'user',
        content: text,
        metadata: '{"steer":true}',
        userId: identity.userId,
        createdAt: Date.now(),
      });
      this.publisher.publish(
        active,
        { type: 'steer_sent', sessionId: active.sessionId, turnId: turn.id, text, userId: identity.userId },
        { directTo: conn, requestId },
      );
    });
  }

  async answer(conn: Connection, identity: AuthIdentity, msg: AnswerQuestionMessage): Promise<void> {
    const row = await this.sessions.require(identity.tenantId, msg.sessionId);
    const active = this.runtime.get(row.id);
    if (!active || active.state !== 'waiting' || !active.turn)
      throw new DomainError('INVALID_STATE', 'The session is not waiting for an answer');
    const pending = active.pending;
    if (!pending || pending.requestId !== msg.requestId) throw new DomainError('REQUEST_NOT_FOUND');
    const isPermission = pending.type === 'permission_requested';
    const approved = isPermission ? (msg.dismissed ? false : (msg.approved ?? false)) : undefined;
    if (!isPermission && msg.answers === undefined && !msg.dismissed) {
      throw new DomainError('INVALID_MESSAGE', 'answer_question: answers are required for a question');
    }
    active.podium?.send(
      isPermission
        ? permissionResponse(pending.requestId, approved!)
        : answerQuestionMessage(pending.requestId, msg.answers ?? {}, msg.dismissed),
    );
    active.pending = undefined;
    active.resolved.add(pending.requestId);
    this.publisher.publish(
      active,
      {
        type: 'approval_resolved',
        sessionId: active.sessionId,
        turnId: active.turn.id,
        requestId: pending.requestId,
        ...(isPermission ? { approved } : { answers: msg.answers }),
        ...(msg.dismissed ? { dismissed: true } : {}),
        resolvedBy: identity.userId,
      },
      { directTo: conn, requestId: msg.requestId },
    );
    this.states.set(active, 'running');
    this.runtime.armStallTimer(active);
  }

  private async withOpenTurn(
    identity: AuthIdentity,
    sessionId: string,
    turnId: string | undefined,
    fn: (active: ActiveSession) => void,
  ): Promise<void> {
    const row = await this.sessions.require(identity.tenantId, sessionId);
    const active = this.runtime.get(row.id);
    const open = active?.turn && (active.state === 'running' || active.state === 'waiting');
    if (!active || !open || (turnId !== undefined && active.turn!.id !== turnId))
      throw new DomainError('NO_ACTIVE_TURN');
    fn(active);
  }
}
