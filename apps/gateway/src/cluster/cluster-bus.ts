import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { redactUrl } from '@app/auth';
import { CLUSTER_CONFIG } from './cluster.tokens';
import type { ClusterConfig } from './cluster.config';
import {
  decode,
  encode,
  packDeliveries,
  type BusHeader,
  type Delivery,
  type InboundHeader,
  type OutHeader,
} from './cluster-protocol';

type Handler<H> = (header: H, body: string) => void;

/**
 * The Redis link between gateway instances (lease mode only): one client for commands and PUBLISH, one
 * subscribed to this process's inbox channel. One publisher and one subscriber per process keep every
 * message between two instances in order. Frames for another instance's clients are queued and sent
 * as one message per instance per event-loop turn (`packDeliveries`).
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

  constructor(@Inject(CLUSTER_CONFIG) private readonly config: ClusterConfig) {
    this.enabled = config.leases;
    this.member = `${config.instanceId}.${randomBytes(3).toString('hex')}`;
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
    this.subscriber.on('message', (_channel: string, message: string) => this.receive(message));
    this.subscriber.on('ready', () => {
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
    this.commands.publish(this.inbox(member), message).catch((err: Error) => {
      this.logger.warn(`cluster bus: publish to ${member} failed: ${err.message}`);
    });
  }

  private receive(message: string): void {
    let decoded: ReturnType<typeof decode>;
    try {
      decoded = decode(message);
    } catch {
      this.logger.warn('cluster bus: undecodable message dropped');
      return;
    }
    const handler = this.handlers.get(decoded.header.k) as Handler<BusHeader> | undefined;
    if (!handler) return;
    try {
      handler(decoded.header, decoded.body);
    } catch (err) {
      this.logger.error(`cluster bus: ${decoded.header.k} handler failed: ${(err as Error).message}`);
    }
  }
}
