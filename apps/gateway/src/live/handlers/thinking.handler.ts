import { Injectable } from '@nestjs/common';
import type { EventHandler, EventOf, HandlerContext } from './handler';

/** Thinking: buffered for history (kept with the assistant message), streamed, timed. */
@Injectable()
export class ThinkingHandler implements EventHandler {
  readonly types = ['thinking.start', 'thinking.progress', 'thinking.complete'] as const;

  handle({ active, event, publish }: HandlerContext): void {
    const turn = active.turn;
    if (!turn) return;
    if (event.type === 'thinking.start') {
      turn.thinkingStartedAt = Date.now();
      publish(event);
    } else if (event.type === 'thinking.progress') {
      publish(event);
    } else {
      const e = event as EventOf<'thinking.complete'>;
      turn.thinking = e.text;
      const durationMs = turn.thinkingStartedAt ? Date.now() - turn.thinkingStartedAt : undefined;
      publish({ ...e, ...(e.durationMs === undefined && durationMs !== undefined ? { durationMs } : {}) });
    }
  }
}
