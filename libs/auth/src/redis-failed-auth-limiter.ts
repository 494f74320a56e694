import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { FailedAuthLimiter } from './failed-auth-limiter';

export interface RedisLimiterOptions {
  url: string;
  /** Namespace of the keys (`<prefix>:auth-fail:<ip>`), so deployments and test runs do not collide. */
  keyPrefix: string;
  max: number;
  windowMs: number;
  /** How long a command may wait for Redis before the attempt is refused. */
  commandTimeoutMs?: number;
}

/**
 * Failed attempts per IP in Redis, shared by every gateway instance, through rate-limiter-flexible:
 * one Lua script increments the counter and sets its expiry atomically, so concurrent failures on
 * several instances are all counted. The window is fixed and starts at the first failure of an IP
 * (rounded up to whole seconds); once `max` failures are counted the IP waits until the key expires.
 * Commands fail fast while Redis is unreachable (no offline queue) instead of piling up.
 */
export class RedisFailedAuthLimiter extends FailedAuthLimiter implements OnApplicationShutdown {
  readonly kind = 'redis';
  private readonly logger = new Logger(RedisFailedAuthLimiter.name);
  private readonly client: Redis;
  private readonly limiter: RateLimiterRedis;
  private lastError = '';

  constructor(private readonly options: RedisLimiterOptions) {
    super();
    this.client = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 5000,
      disconnectTimeout: 200,
      commandTimeout: options.commandTimeoutMs ?? 2000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    });
    this.client.on('ready', () => {
      this.lastError = '';
      this.logger.log(`auth limiter connected to Redis at ${redactUrl(options.url)}`);
    });
    this.client.on('error', (err: Error) => {
      // ioredis reports every reconnect attempt: log each distinct problem once.
      if (err.message === this.lastError) return;
      this.lastError = err.message;
      this.logger.error(
        `auth limiter cannot reach Redis at ${redactUrl(options.url)}: ${err.message}; ` +
          'authentication attempts are refused until it answers (fail-closed)',
      );
    });
    this.limiter = new RateLimiterRedis({
      storeClient: this.client,
      keyPrefix: `${options.keyPrefix}:auth-fail`,
      points: options.max,
      duration: Math.ceil(options.windowMs / 1000),
      rejectIfRedisNotReady: true,
    });
  }

  /** Starts connecting; resolves once connected or after `waitMs` (attempts are refused until then). */
  async connect(waitMs = 5000): Promise<void> {
    const ready = new Promise<void>((resolve) => this.client.once('ready', () => resolve()));
    this.client.connect().catch(() => undefined); // reported through 'error', retried by retryStrategy
    await Promise.race([ready, new Promise((r) => setTimeout(r, waitMs).unref())]);
  }

  async check(key: string): Promise<number> {
    const res = await this.limiter.get(key);
    if (!res || res.consumedPoints < this.options.max) return 0;
    return Math.max(1, res.msBeforeNext);
  }

  async hit(key: string): Promise<void> {
    try {
      await this.limiter.consume(key, 1);
    } catch (err) {
      // Over the limit is a result, not a failure: the count went up all the same.
      if (err instanceof RateLimiterRes) return;
      throw err;
    }
  }

  sweep(): void {
    // Keys expire in Redis.
  }

  override async probe(): Promise<{ ok: boolean; error?: string }> {
    try {
      const answer = await Promise.race([
        this.client.ping(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref()),
      ]);
      return answer === 'PONG' ? { ok: true } : { ok: false, error: String(answer) };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    if (this.client.status === 'end') return;
    if (this.client.status !== 'ready') {
      this.client.disconnect(); // stops reconnecting too
      return;
    }
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}

/** A connection URL without its password, for logs. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable url)';
  }
}
