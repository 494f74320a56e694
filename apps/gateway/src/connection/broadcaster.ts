import type { ServerEvent } from '@app/protocol';
import type { Connection } from './connection';

export const sessionTopic = (sessionId: string): string => `session:${sessionId}`;
export const tenantTopic = (tenantId: string): string => `tenant:${tenantId}`;

export interface PublishOptions {
  /** Skippable for slow consumers (deltas); durable events are never skipped. */
  ephemeral?: boolean;
  /** A connection that gets its own direct reply instead. */
  except?: Connection;
  /** For session topics: the session and seq of the frame (joins hold frames back by seq). */
  sessionId?: string;
  seq?: number;
  /** Also deliver to this topic; a connection on both gets the frame once. */
  alsoTopic?: string;
}

/**
 * Topic pub/sub to client sockets. Each event is serialised once per publish, whatever the number of
 * subscribers. The in-process implementation is the default; a shared bus can replace it.
 */
export abstract class Broadcaster {
  abstract subscribe(topic: string, conn: Connection): void;
  abstract unsubscribe(topic: string, conn: Connection): void;
  abstract publish(topic: string, event: ServerEvent, options?: PublishOptions): void;
  abstract publishFrame(topic: string, frame: string, options?: PublishOptions): void;
  abstract subscriberCount(topic: string): number;
  abstract topics(prefix: string): string[];
}
