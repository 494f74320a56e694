import { Injectable } from '@nestjs/common';
import type { EventHandler, EventOf, HandlerContext } from './handler';

/** text_delta: appended to the turn's text buffer, then streamed. */
@Injectable()
export class MessageStreamHandler implements EventHandler {
  readonly types = ['text_delta'] as const;

  handle({ active, event, publish }: HandlerContext): void {
    if (!active.turn) return;
    active.turn.text += (event as EventOf<'text_delta'>).text;
    publish({ ...event, turnId: active.turn.id } as EventOf<'text_delta'>);
  }
}
