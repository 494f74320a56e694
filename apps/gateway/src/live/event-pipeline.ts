import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { isPodiumEventName, mapPodiumEvent, type UpstreamEventRule } from '@app/podium';
import type { SessionEventType } from '@app/protocol';
import type { ActiveSession } from './active-session';
import { EventPublisher } from './event-publisher';
import type { EventHandler } from './handlers/handler';
import { TurnWatchdog } from './turn-watchdog';

/** The event handlers (`live.module.ts` lists them), each owning the event types it names. */
export const EVENT_HANDLERS = Symbol('EVENT_HANDLERS');

/**
 * An upstream event type contributed by an extension module (docs/extending.md): frames named
 * `upstream` (a name the core mapper does not have) become the events `map` returns, published as
 * they are (live to the session's viewers; stored for replay only if their type is durable).
 */
export interface UpstreamEventExtension {
  upstream: string;
  map: UpstreamEventRule;
}

/** The contributed upstream event types (provided by `bootstrap({ extensions })`; absent otherwise). */
export const UPSTREAM_EVENT_EXTENSIONS = Symbol('UPSTREAM_EVENT_EXTENSIONS');

/**
 * Upstream agent frame → mapper (0..n events) → the handler for each event's type → publisher.
 * Handlers run synchronously per session in arrival order; a handler failure is logged and does not
 * stop the stream. Every frame is activity: it re-arms the turn's stall timer.
 */
@Injectable()
export class EventPipeline {
  private readonly logger = new Logger(EventPipeline.name);
  private readonly byType = new Map<SessionEventType, EventHandler>();
  private readonly extraRules = new Map<string, UpstreamEventRule>();

  constructor(
    private readonly publisher: EventPublisher,
    private readonly watchdog: TurnWatchdog,
    @Inject(EVENT_HANDLERS) handlers: EventHandler[],
    @Optional() @Inject(UPSTREAM_EVENT_EXTENSIONS) extensions?: UpstreamEventExtension[],
  ) {
    for (const h of handlers) {
      for (const t of h.types) this.byType.set(t, h);
    }
    for (const e of extensions ?? []) {
      if (isPodiumEventName(e.upstream) || this.extraRules.has(e.upstream)) {
        throw new Error(`upstream event type "${e.upstream}" is already mapped`);
      }
      this.extraRules.set(e.upstream, e.map);
    }
  }

  ingest(active: ActiveSession, frame: unknown): void {
    active.touch();
    this.watchdog.arm(active);
    const mapped = mapPodiumEvent(
      { sessionId: active.sessionId, turnId: active.turn?.id ?? null },
      frame,
      this.extraRules,
    );
    for (const m of mapped) {
      if (this.extraRules.has(m.source)) {
        this.publisher.publish(active, m.event);
        continue;
      }
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
