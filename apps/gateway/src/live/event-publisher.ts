import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SessionStore, TenantRegistry } from '@app/persistence';
import { isDurable, type SessionEvent, type UnsequencedEvent } from '@app/protocol';
import type { AllConfig } from '../config';
import { withRequestId, type Connection } from '../connection/connection';
import type { ActiveSession } from './active-session';
import { Broadcaster, sessionTopic, tenantTopic } from '../connection/broadcaster';
import { GatewayEvents } from '../connection/gateway-events';

export interface PublishTarget {
  /** The requester: gets the frame once, with its requestId, in stream order. */
  directTo?: Connection;
  requestId?: string;
}

/** Counters for metrics. */
export interface PublisherStats {
  published: number;
  durable: number;
}

/**
 * Assigns each session event its `seq` and `ts`, enqueues durable ones to the writer, and broadcasts
 * the frame, serialised once, to the session topic (and `session_state` also to the tenant topic).
 *
 * `seq` is never reused, even after a crash: values are reserved ahead in the registry row
 * (`last_seq`) in blocks, and a restart continues above the reservation. When a burst outruns the
 * reservation, events wait in order until the next block is persisted.
 */
@Injectable()
export class EventPublisher {
  private readonly logger = new Logger(EventPublisher.name);
  private readonly block: number;
  readonly stats: PublisherStats = { published: 0, durable: 0 };

  constructor(
    private readonly broadcaster: Broadcaster,
    private readonly store: SessionStore,
    private readonly registry: TenantRegistry,
    config: ConfigService<AllConfig, true>,
    private readonly events: GatewayEvents,
  ) {
    this.block = config.get('app', { infer: true }).sessions.seqReserveBlock;
  }

  /** Loads the seq position of a session about to become active and reserves the first block. */
  async initSeq(active: ActiveSession, persistedLastSeq: number): Promise<void> {
    const onDisk = await this.store.maxSeq(active.sessionId);
    active.seq.startAt(Math.max(persistedLastSeq, onDisk));
    await this.reserve(active);
  }

  /** Records the exact last seq when a session goes inactive (a clean stop leaves no reserved gap). */
  async persistLastSeq(active: ActiveSession): Promise<void> {
    await active.seq.reserving;
    await this.registry.updateSession(active.tenantId, active.sessionId, { lastSeq: active.seq.lastSeq });
  }

  publish(active: ActiveSession, event: UnsequencedEvent, target: PublishTarget = {}): void {
    const cursor = active.seq;
    if (cursor.backlog.length > 0 || cursor.lastSeq >= cursor.reservedSeq) {
      cursor.backlog.push({ event, options: target });
      void this.reserve(active);
      return;
    }
    this.emit(active, event, target);
    if (cursor.reservedSeq - cursor.lastSeq < this.block / 2) void this.reserve(active);
  }

  private emit(active: ActiveSession, event: UnsequencedEvent, target: PublishTarget): void {
    const seq = active.seq.next();
    const ts = Date.now();
    const full = { ...event, seq, ts } as SessionEvent;
    const frame = JSON.stringify(full);
    const durable = isDurable(full.type);
    if (durable) {
      this.stats.durable++;
      this.store.enqueue({
        table: 'events',
        sessionId: active.sessionId,
        row: {
          seq,
          type: full.type,
          turnId: 'turnId' in full ? (full.turnId ?? null) : null,
          payload: frame,
          ts,
        },
      });
    }
    this.stats.published++;
    this.broadcaster.publishFrame(sessionTopic(active.sessionId), frame, {
      ephemeral: !durable,
      except: target.directTo,
      sessionId: active.sessionId,
      seq,
      alsoTopic: full.type === 'session_state' ? tenantTopic(active.tenantId) : undefined,
    });
    if (target.directTo) {
      target.directTo.sendFrame(withRequestId(frame, target.requestId), false);
    }
    if (durable && this.events.hasListeners('session.event_published')) {
      this.events.emit('session.event_published', {
        tenantId: active.tenantId,
        sessionId: active.sessionId,
        event: full,
      });
    }
  }

  private reserve(active: ActiveSession): Promise<void> {
    const cursor = active.seq;
    cursor.reserving ??= (async () => {
      let ok = false;
      try {
        const next = Math.max(cursor.reservedSeq, cursor.lastSeq) + this.block;
        await this.registry.updateSession(active.tenantId, active.sessionId, { lastSeq: next });
        cursor.reservedUpTo(next);
        ok = true;
      } catch (err) {
        this.logger.error(
          `seq reservation for session ${active.sessionId} failed: ${(err as Error).message}`,
        );
      } finally {
        cursor.reserving = undefined;
      }
      // A failed reservation is retried after a pause; events wait, in order, meanwhile.
      if (ok) this.drain(active);
      else setTimeout(() => this.drain(active), 1000).unref();
    })();
    return cursor.reserving;
  }

  private drain(active: ActiveSession): void {
    const cursor = active.seq;
    while (cursor.backlog.length > 0 && cursor.lastSeq < cursor.reservedSeq) {
      const { event, options } = cursor.backlog.shift()!;
      this.emit(active, event, options as PublishTarget);
    }
    if (cursor.backlog.length > 0) void this.reserve(active);
  }
}
