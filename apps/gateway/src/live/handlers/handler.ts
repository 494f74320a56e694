import type { MappedEvent } from '@app/podium';
import type { SessionEventType, UnsequencedEvent } from '@app/protocol';
import type { ActiveSession } from '../active-session';

export type EventOf<T extends SessionEventType> = Extract<UnsequencedEvent, { type: T }>;

export interface HandlerContext<T extends SessionEventType = SessionEventType> {
  active: ActiveSession;
  event: EventOf<T>;
  mapped: MappedEvent;
  /** Publishes an event on the session (seq, persistence, broadcast). */
  publish(event: UnsequencedEvent): void;
}

/** One of the seven handler modules (docs/architecture.md, "Live sessions"): side effects for a family of events. */
export interface EventHandler {
  readonly types: readonly SessionEventType[];
  handle(ctx: HandlerContext): void;
}
