import { Inject, Injectable, Logger } from '@nestjs/common';
import { mapPodiumEvent } from '@app/podium';
import type { SessionEventType } from '@app/protocol';
import type { ActiveSession } from './active-session';
import { EventPublisher } from './event-publisher';
import type { EventHandler } from './handlers/handler';
import { TurnWatchdog } from './turn-watchdog';

/** The event handlers (`live.module.ts` lists them), each owning the event types it names. */
export const EVENT_HANDLERS = Symbol('EVENT_HANDLERS');

/**
 * Upstream agent frame → mapper (0..n events) → the handler for each event's type → publisher.
 * Handlers run synchronously per session in arrival order; a handler failure is logged and does not
 * stop the stream. Every frame is activity: it re-arms the turn's stall timer.
 */
@Injectable()
export class EventPipeline {
  private readonly logger = new Logger(EventPipeline.name);
  private readonly byType = new Map<SessionEventType, EventHandler>();

  constructor(
    private readonly publisher: EventPublisher,
    private readonly watchdog: TurnWatchdog,
    @Inject(EVENT_HANDLERS) handlers: EventHandler[],
  ) {
    for (const h of handlers) {
      for (const t of h.types) this.byType.set(t, h);
    }
  }

  ingest(active: ActiveSession, frame: unknown): void {
    active.touch();
    this.watchdog.arm(active);
    const mapped = mapPodiumEvent({ sessionId: active.sessionId, turnId: active.turn?.id ?? null }, frame);
    for (const m of mapped) {
      const handler = this.byType.get(m.event.type);
      if (!handler) {
        this.logger.debug(`no handler for ${m.event.type}; dropped`);
        continue;
      }
      try {
        handler.handle({
          active,
          event: m.event,
          mapped: m,
          publish: (e) => this.publisher.publish(active, e),
        });
      } catch (err) {
        this.logger.error(`handler for ${m.event.type} failed: ${(err as Error).message}`);
      }
    }
  }
}
