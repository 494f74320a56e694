import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { redactUrl } from '@app/auth';
import { CLUSTER_CONFIG } from './cluster.tokens';
import type { ClusterConfig } from '../config/cluster.config';
import {
  BusSigner,
  decode,
  encode,
  packDeliveries,
  REJECT_REASONS,
  type RejectReason,
  type BusHeader,
  type Delivery,
  type InboundHeader,
  type OutHeader,
} from './cluster-protocol';

type Handler<H> = (header: H, body: string) => void;

/** Senders whose last sequence number is remembered (the oldest are forgotten beyond this). */
const MAX_KNOWN_SENDERS = 1024;
/** At most one warning per this interval about dropped messages (a flood must not flood the log). */
const REJECT_LOG_INTERVAL_MS = 5000;
/**
 * A batch for one instance is sent early once it holds this many deliveries (socket writes on the
 * receiving side), so that no single message costs the receiver more than a few tens of milliseconds.
 */
const MAX_DELIVERIES_PER_MESSAGE = 4096;
/**
 * Inbound messages are handled in slices of at most this long. A turn's frames for this instance's
 * clients can arrive faster than they can be written out (a few MB read at once, each frame written
 * to many sockets): handled in one go they would hold the event loop for seconds, and the lease
 * renewal with it, until the other instances take this one for gone.
 */
const RECEIVE_SLICE_MS = 10;
/**
 * With this many inbound messages waiting, the inbox socket stops being read until half of them are
 * handled: the backlog then waits in Redis, bounded by its pub/sub output limit, not in this process.
 */
const RECEIVE_PAUSE_AT = 2000;

/**
 * The Redis link between gateway instances (lease mode only): one client for commands and PUBLISH, one
 * subscribed to this process's inbox channel. One publisher and one subscriber per process keep every
 * message between two instances in order. Frames for another instance's clients are queued and sent
 * as one message per instance per event-loop turn (`packDeliveries`), split beyond
 * MAX_DELIVERIES_PER_MESSAGE; inbound messages are handled in order, in time slices. Every message is
 * signed with CLUSTER_SECRET (`BusSigner`); unsigned, badly signed and replayed messages are dropped
 * and counted.
 */
@Injectable()
export class ClusterBus implements OnApplicationShutdown {
  private readonly logger = new Logger(ClusterBus.name);
  /** This process on the bus: INSTANCE_ID plus a per-process suffix, so a restart is a new member. */
  readonly member: string;
  readonly enabled: boolean;
  readonly commands?: Redis;
  private readonly subscriber?: Redis;
  private readonly handlers = new Map<string, Handler<never>>();
  private readonly resetListeners: (() => void)[] = [];
  private readonly outbox = new Map<string, Delivery[]>();
  private flushScheduled = false;
  private subscribedOnce = false;
  private lastError = '';
  private closed = false;
  private readonly signer: BusSigner;
  /** Sequence number of the last message this process published (any destination). */
  private seq = 0;
  /** The last sequence number accepted from each sender: anything not newer is a replay. */
  private readonly lastSeqOf = new Map<string, number>();
  /** Messages dropped before any handler, by reason (diminuendo_cluster_bus_rejected_total). */
  readonly rejected: Record<RejectReason, number> = Object.fromEntries(
    REJECT_REASONS.map((r) => [r, 0]),
  ) as Record<RejectReason, number>;
  private rejectLoggedAt = 0;
  private rejectUnlogged = 0;
  /** Inbound messages not handled yet, in arrival order; a slice is scheduled while there are any. */
  private inbound: (readonly [channel: string, message: string])[] = [];
  private inboxPaused = false;

  constructor(@Inject(CLUSTER_CONFIG) private readonly config: ClusterConfig) {
    this.enabled = config.leases;
    this.member = `${config.instanceId}.${randomBytes(3).toString('hex')}`;
    this.signer = new BusSigner(config.secret);
    if (!this.enabled) return;
    const options = {
      lazyConnect: true,
      connectTimeout: 5000,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: true,
      retryStrategy: (attempt: number) => Math.min(attempt * 200, 2000),
    };
    // Named, so `CLIENT LIST` shows which instance each connection belongs to.
    this.commands = new Redis(config.redisUrl, {
      ...options,
      commandTimeout: 2000,
      connectionName: `${config.keyPrefix}:${this.member}:cmd`,
    });
    this.subscriber = new Redis(config.redisUrl, {
      ...options,
      connectionName: `${config.keyPrefix}:${this.member}:sub`,
    });
    for (const client of [this.commands, this.subscriber]) {
      client.on('error', (err: Error) => {
        if (err.message === this.lastError) return;
        this.lastError = err.message;
        this.logger.error(`cluster bus cannot reach Redis at ${redactUrl(config.redisUrl)}: ${err.message}`);
      });
    }
    this.subscriber.on('message', (channel: string, message: string) => this.queue(channel, message));
    this.subscriber.on('ready', () => {
      this.inboxPaused = false; // a new socket after a reconnect
      // ioredis resubscribes after a reconnect, but whatever was published meanwhile is gone.
      if (this.subscribedOnce) {
        this.logger.warn('cluster bus reconnected: messages may have been lost; resetting forwarded clients');
        for (const l of this.resetListeners) l();
      }
    });
  }

  /** The inbox channel of a member. */
  inbox(member: string): string {
    return `${this.config.keyPrefix}:inst:${member}`;
  }

  key(...parts: string[]): string {
    return [this.config.keyPrefix, ...parts].join(':');
  }

  /** Connects both clients and subscribes to this member's inbox; the gateway refuses to start otherwise. */
  async connect(): Promise<void> {
    if (!this.commands || !this.subscriber) return;
    try {
      await Promise.all([this.commands.connect(), this.subscriber.connect()]);
      await this.subscriber.subscribe(this.inbox(this.member));
    } catch (err) {
      throw new Error(
        `TENANT_OWNERSHIP=lease needs Redis at ${redactUrl(this.config.redisUrl)}: ${(err as Error).message}`,
      );
    }
    this.subscribedOnce = true;
    this.lastError = '';
    this.logger.log(`cluster member ${this.member} on ${redactUrl(this.config.redisUrl)}`);
    if (!this.signer.signing) {
      this.logger.warn(
        'CLUSTER_SECRET is not set: messages between instances are neither signed nor checked (dev mode only; anyone who can publish to this Redis can act as an instance)',
      );
    }
  }

  on(kind: InboundHeader['k'], handler: Handler<InboundHeader>): void;
  on(kind: 'out', handler: Handler<OutHeader>): void;
  on(kind: BusHeader['k'], handler: Handler<never>): void {
    this.handlers.set(kind, handler);
  }

  /** Called when the inbox subscription was re-established (messages may have been lost). */
  onReset(listener: () => void): void {
    this.resetListeners.push(listener);
  }

  /** Sends one message to a member, now (client side → owner; ordered with every other send). */
  send(member: string, header: BusHeader, body = ''): void {
    this.publish(member, encode(header, body));
  }

  /** Queues a delivery for a client connected to `member`; sent with the rest of this turn's batch. */
  deliver(member: string, delivery: Delivery): void {
    let queue = this.outbox.get(member);
    if (!queue) {
      queue = [];
      this.outbox.set(member, queue);
    }
    queue.push(delivery);
    if (queue.length >= MAX_DELIVERIES_PER_MESSAGE) {
      this.outbox.delete(member);
      this.publish(member, packDeliveries(this.member, queue));
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends every queued batch. */
  flush(): void {
    this.flushScheduled = false;
    for (const [member, queue] of this.outbox) this.publish(member, packDeliveries(this.member, queue));
    this.outbox.clear();
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.commands || !this.subscriber || this.closed) return;
    this.closed = true;
    this.flush();
    await Promise.allSettled([this.commands.quit(), this.subscriber.quit()]);
  }

  private publish(member: string, message: string): void {
    if (!this.commands || this.closed) return;
    const channel = this.inbox(member);
    this.commands.publish(channel, this.signer.seal(channel, ++this.seq, message)).catch((err: Error) => {
      this.logger.warn(`cluster bus: publish to ${member} failed: ${err.message}`);
    });
  }

  /** Number of inbound messages waiting to be handled. */
  get inboundBacklog(): number {
    return this.inbound.length;
  }

  private queue(channel: string, message: string): void {
    if (this.inbound.push([channel, message]) === 1) setImmediate(() => this.receiveSlice());
    if (!this.inboxPaused && this.inbound.length >= RECEIVE_PAUSE_AT) {
      this.inboxPaused = true;
      this.subscriber!.stream.pause();
    }
  }

  /** Handles waiting messages in order for at most RECEIVE_SLICE_MS, then lets timers and I/O run. */
  private receiveSlice(): void {
    const until = performance.now() + RECEIVE_SLICE_MS;
    let handled = 0;
    while (handled < this.inbound.length && !this.closed) {
      const [channel, message] = this.inbound[handled++];
      this.receive(channel, message);
      if (performance.now() >= until) break;
    }
    // The backlog stays small (the inbox pauses at RECEIVE_PAUSE_AT), so copying the rest is cheap.
    this.inbound = this.closed ? [] : this.inbound.slice(handled);
    if (this.inbound.length > 0) setImmediate(() => this.receiveSlice());
    if (this.inboxPaused && this.inbound.length <= RECEIVE_PAUSE_AT / 2) {
      this.inboxPaused = false;
      this.subscriber!.stream.resume();
    }
  }

  private receive(channel: string, raw: string): void {
    const opened = this.signer.open(channel, raw);
    if ('rejected' in opened) return this.reject(opened.rejected);
    let decoded: ReturnType<typeof decode>;
    try {
      decoded = decode(opened.message);
    } catch {
      return this.reject('malformed');
    }
    const from = decoded.header.from;
    if (typeof from !== 'string') return this.reject('malformed');
    const last = this.lastSeqOf.get(from);
    if (last !== undefined && opened.seq <= last) return this.reject('replayed');
    this.lastSeqOf.delete(from);
    this.lastSeqOf.set(from, opened.seq);
    if (this.lastSeqOf.size > MAX_KNOWN_SENDERS) {
      this.lastSeqOf.delete(this.lastSeqOf.keys().next().value as string);
    }
    const handler = this.handlers.get(decoded.header.k) as Handler<BusHeader> | undefined;
    if (!handler) return;
    try {
      handler(decoded.header, decoded.body);
    } catch (err) {
      this.logger.error(`cluster bus: ${decoded.header.k} handler failed: ${(err as Error).message}`);
    }
  }

  /** Counts a dropped message; warns (never with its content) at most every few seconds. */
  private reject(reason: RejectReason): void {
    this.rejected[reason]++;
    this.rejectUnlogged++;
    const t = Date.now();
    if (t - this.rejectLoggedAt < REJECT_LOG_INTERVAL_MS) return;
    this.logger.warn(
      `cluster bus: dropped ${this.rejectUnlogged} message(s) on ${this.inbox(this.member)} (latest: ${reason}); check that every instance has the same CLUSTER_SECRET and that nothing else publishes to this Redis`,
    );
    this.rejectLoggedAt = t;
    this.rejectUnlogged = 0;
  }
}
