import { Injectable } from '@nestjs/common';
import type { ServerEvent } from '@app/protocol';
import type { Connection } from './connection';
import { Broadcaster, type PublishOptions } from './broadcaster';
import { turnOutbox, type RunSlot } from './turn-outbox';

@Injectable()
export class InProcessBroadcaster extends Broadcaster {
  private readonly subscribers = new Map<string, Set<Connection>>();

  subscribe(topic: string, conn: Connection): void {
    let set = this.subscribers.get(topic);
    if (!set) {
      set = new Set();
      this.subscribers.set(topic, set);
    }
    set.add(conn);
  }

  unsubscribe(topic: string, conn: Connection): void {
    const set = this.subscribers.get(topic);
    if (!set) return;
    set.delete(conn);
    if (set.size === 0) this.subscribers.delete(topic);
  }

  publish(topic: string, event: ServerEvent, options: PublishOptions = {}): void {
    if (!this.subscribers.has(topic) && !(options.alsoTopic && this.subscribers.has(options.alsoTopic)))
      return;
    this.publishFrame(topic, JSON.stringify(event), options);
  }

  publishFrame(topic: string, frame: string, options: PublishOptions = {}): void {
    const set = this.subscribers.get(topic);
    const ephemeral = options.ephemeral === true;
    if (set) {
      // v2 connections share one batch per run of frames (turn-outbox.ts).
      let slot: RunSlot | undefined;
      for (const conn of set) {
        if (conn === options.except) continue;
        if (conn.coalesces) slot ??= turnOutbox.slot(topic, frame);
        conn.deliver(frame, ephemeral, options.sessionId, options.seq, slot);
      }
    }
    if (options.alsoTopic) {
      const extra = this.subscribers.get(options.alsoTopic);
      if (!extra) return;
      for (const conn of extra) {
        if (conn !== options.except && !set?.has(conn)) conn.sendFrame(frame, ephemeral);
      }
    }
  }

  subscriberCount(topic: string): number {
    return this.subscribers.get(topic)?.size ?? 0;
  }

  topics(prefix: string): string[] {
    return [...this.subscribers.keys()].filter((t) => t.startsWith(prefix));
  }
}
