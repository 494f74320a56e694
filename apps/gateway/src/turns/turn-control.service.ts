import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AuthIdentity } from '@app/auth';
import { answerQuestionMessage, interruptMessage, permissionResponse, steerMessage } from '@app/podium';
import { SessionStore } from '@app/persistence';
import { DomainError, type AnswerQuestionMessage } from '@app/protocol';
import type { AllConfig } from '../config';
import type { Connection } from '../connection/connection';
import { EventPublisher } from '../live/event-publisher';
import type { ActiveSession } from '../live/active-session';
import { LiveSessions } from '../live/live-sessions';
import { SessionStates } from '../live/session-states.service';
import { TurnFinisher } from '../live/turn-finisher.service';
import { TurnWatchdog } from '../live/turn-watchdog';
import { SessionsService } from '../sessions/sessions.service';

/**
 * stop_turn, steer and answer_question: what is done to an open turn (docs/protocol.md §8). The
 * requester gets the event that answers it (`turn_stopped`, `steer_sent`, `approval_resolved`) in
 * stream order, with its requestId; every other viewer gets it on the session topic.
 */
@Injectable()
export class TurnControl {
  private readonly stopGraceMs: number;

  constructor(
    private readonly sessions: SessionsService,
    private readonly live: LiveSessions,
    private readonly states: SessionStates,
    private readonly publisher: EventPublisher,
    private readonly finisher: TurnFinisher,
    private readonly watchdog: TurnWatchdog,
    private readonly store: SessionStore,
    config: ConfigService<AllConfig, true>,
  ) {
    this.stopGraceMs = config.get('app', { infer: true }).sessions.stopTurnGraceMs;
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
      }, this.stopGraceMs);
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
    const active = this.live.get(row.id);
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
    active.resolve(pending.requestId);
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
    this.watchdog.arm(active);
  }

  private async withOpenTurn(
    identity: AuthIdentity,
    sessionId: string,
    turnId: string | undefined,
    fn: (active: ActiveSession) => void,
  ): Promise<void> {
    const row = await this.sessions.require(identity.tenantId, sessionId);
    const active = this.live.get(row.id);
    const open = active?.turn && (active.state === 'running' || active.state === 'waiting');
    if (!active || !open || (turnId !== undefined && active.turn!.id !== turnId))
      throw new DomainError('NO_ACTIVE_TURN');
    fn(active);
  }
}
