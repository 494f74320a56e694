import { Injectable, Logger } from '@nestjs/common';
import { TurnFinisher } from '../turn-finisher.service';
import type { EventHandler, EventOf, HandlerContext } from './handler';

/** turn_started / turn_complete / turn_error / turn_stopped from the agent: close the turn. */
@Injectable()
export class TurnLifecycleHandler implements EventHandler {
  private readonly logger = new Logger(TurnLifecycleHandler.name);
  readonly types = ['turn_started', 'turn_complete', 'turn_error', 'turn_stopped'] as const;

  constructor(private readonly finisher: TurnFinisher) {}

  handle({ active, event, mapped }: HandlerContext): void {
    const turn = active.turn;
    switch (event.type) {
      case 'turn_started':
        // The gateway announced the turn when it dispatched it; the agent's acknowledgement adds nothing.
        return;
      case 'turn_complete':
        if (!turn) return this.late(active.sessionId, event.type);
        // After a stop_turn, however the agent ends the turn it ends as stopped.
        if (mapped.stopped || turn.stopRequest) this.finisher.finish(active, { kind: 'stopped' });
        else
          this.finisher.finish(active, {
            kind: 'complete',
            finalText: (event as EventOf<'turn_complete'>).finalText,
          });
        return;
      case 'turn_stopped':
        if (!turn) return this.late(active.sessionId, event.type);
        this.finisher.finish(active, { kind: 'stopped' });
        return;
      case 'turn_error': {
        if (!turn) return this.late(active.sessionId, event.type);
        const e = event as EventOf<'turn_error'>;
        this.finisher.finish(active, { kind: 'error', code: e.code, message: e.message, detail: e.detail });
        return;
      }
    }
  }

  private late(sessionId: string, type: string): void {
    this.logger.debug(`${type} without an open turn on session ${sessionId}: dropped`);
  }
}
