import { Injectable, Logger } from '@nestjs/common';
import { SessionStore } from '@app/persistence';
import type { SessionState, TurnErrorCode } from '@app/protocol';
import { EventPublisher } from './event-publisher';
import type { ActiveSession, OpenTurn } from './active-session';
import { SessionStates } from './session-states.service';
import { TurnBilling } from './turn-billing';

export type TurnOutcome =
  | { kind: 'complete'; finalText?: string }
  | { kind: 'stopped' }
  | { kind: 'error'; code: TurnErrorCode; message: string; detail?: string };

/**
 * Closes a turn, whatever ended it: one `usage_update` (the turn's aggregate) before the terminal event
 * (`turn_complete`, `turn_stopped` or `turn_error`), the assistant message and the usage row persisted,
 * credits settled or released, and the session back to `ready` (or to `nextState`).
 */
@Injectable()
export class TurnFinisher {
  private readonly logger = new Logger(TurnFinisher.name);

  constructor(
    private readonly publisher: EventPublisher,
    private readonly store: SessionStore,
    private readonly states: SessionStates,
    private readonly billing: TurnBilling,
  ) {}

  finish(active: ActiveSession, outcome: TurnOutcome, nextState: SessionState = 'ready'): void {
    const turn = active.endTurn();
    if (!turn) return;
    const base = { sessionId: active.sessionId, turnId: turn.id };
    const now = Date.now();

    const usage = turn.usage;
    if (usage) {
      const charge = this.billing.price(usage);
      this.publisher.publish(active, {
        type: 'usage_update',
        ...base,
        ...(usage.model ? { model: usage.model } : {}),
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        cacheReadTokens: usage.cacheReadTokens,
        cacheWriteTokens: usage.cacheWriteTokens,
        credits: charge.cost,
        cost: charge.cost,
      });
      this.store.enqueue({
        table: 'turn_usage',
        sessionId: active.sessionId,
        row: {
          turnId: turn.id,
          model: usage.model ?? null,
          inputTokens: usage.inputTokens,
          outputTokens: usage.outputTokens,
          cacheReadTokens: usage.cacheReadTokens,
          cacheWriteTokens: usage.cacheWriteTokens,
          cost: charge.cost,
          createdAt: now,
        },
      });
      void this.billing
        .settle(active, turn, charge)
        .catch((err: Error) => this.logger.error(`settle failed: ${err.message}`));
    } else {
      void this.billing
        .release(active, turn)
        .catch((err: Error) => this.logger.error(`release failed: ${err.message}`));
    }

    const stopTarget = turn.stopRequest
      ? { directTo: turn.stopRequest.conn, requestId: turn.stopRequest.requestId }
      : {};
    if (outcome.kind === 'complete') {
      const finalText = outcome.finalText || turn.text;
      this.persistAssistant(active, turn, finalText, now);
      this.publisher.publish(active, { type: 'turn_complete', ...base, finalText }, stopTarget);
    } else if (outcome.kind === 'stopped') {
      this.persistAssistant(active, turn, turn.text, now, { stopped: true });
      this.publisher.publish(active, { type: 'turn_stopped', ...base }, stopTarget);
    } else {
      this.persistAssistant(active, turn, turn.text, now, { error: outcome.code });
      this.publisher.publish(
        active,
        {
          type: 'turn_error',
          ...base,
          code: outcome.code,
          message: outcome.message,
          ...(outcome.detail ? { detail: outcome.detail } : {}),
        },
        stopTarget,
      );
    }
    this.states.trySet(active, nextState, outcome.kind === 'error' ? outcome.code : undefined);
  }

  private persistAssistant(
    active: ActiveSession,
    turn: OpenTurn,
    text: string,
    now: number,
    meta?: Record<string, unknown>,
  ): void {
    if (!text && !meta) return;
    const metadata = { ...(turn.thinking ? { thinking: turn.thinking } : {}), ...meta };
    this.store.appendMessage(active.sessionId, {
      turnId: turn.id,
      role: 'assistant',
      content: text,
      metadata: Object.keys(metadata).length ? JSON.stringify(metadata) : null,
      userId: null,
      createdAt: now,
    });
  }
}
