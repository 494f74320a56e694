import { Injectable } from '@nestjs/common';
import type { EventHandler, EventOf, HandlerContext } from './handler';

/** usage: accumulated per turn; published once, before the turn's terminal event (TurnFinisher). */
@Injectable()
export class UsageHandler implements EventHandler {
  readonly types = ['usage_update'] as const;

  handle({ active, event }: HandlerContext): void {
    const turn = active.turn;
    if (!turn) return;
    const e = event as EventOf<'usage_update'>;
    const u = (turn.usage ??= { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 });
    u.model = e.model ?? u.model;
    u.inputTokens += e.inputTokens ?? 0;
    u.outputTokens += e.outputTokens ?? 0;
    u.cacheReadTokens += e.cacheReadTokens ?? 0;
    u.cacheWriteTokens += e.cacheWriteTokens ?? 0;
  }
}
