import { Injectable } from '@nestjs/common';
import { SessionStates } from '../session-states.service';
import type { EventHandler, EventOf, HandlerContext } from './handler';

/** Questions and permissions: recorded as the pending request, and running ⇄ waiting. */
@Injectable()
export class InteractiveHandler implements EventHandler {
  readonly types = ['question_requested', 'permission_requested', 'approval_resolved'] as const;

  constructor(private readonly states: SessionStates) {}

  handle({ active, event, publish }: HandlerContext): void {
    if (!active.turn) return;
    if (event.type === 'approval_resolved') {
      const e = event as EventOf<'approval_resolved'>;
      // Already published by the gateway when the user answered.
      if (!active.resolve(e.requestId)) return;
      publish(e);
      this.states.trySet(active, 'running');
      return;
    }
    const request = { ...event, turnId: active.turn.id } as EventOf<
      'question_requested' | 'permission_requested'
    >;
    publish(request);
    // The snapshot serves the pending request exactly as broadcast (with its seq).
    active.awaitAnswer({ ...request, seq: active.lastSeq, ts: Date.now() } as NonNullable<
      typeof active.pending
    >);
    this.states.trySet(active, 'waiting');
  }
}
