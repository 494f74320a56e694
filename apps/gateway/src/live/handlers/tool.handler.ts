import { Injectable } from '@nestjs/common';
import type { EventHandler, HandlerContext } from './handler';

/** Tool call lifecycle: streamed as they come, inside the open turn. */
@Injectable()
export class ToolHandler implements EventHandler {
  readonly types = ['tool_call_start', 'tool_call_delta', 'tool_call', 'tool_result', 'tool_error'] as const;

  handle({ active, event, publish }: HandlerContext): void {
    if (!active.turn) return;
    publish(event);
  }
}
