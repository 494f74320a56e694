import { KeyedSlidingWindow } from './sliding-window';

/**
 * Counts failed authentication attempts per key (the client IP): at most `AUTH_RATE_LIMIT_MAX` per
 * `AUTH_RATE_LIMIT_WINDOW_MS`. In memory for one process, or in Redis so that every gateway instance
 * shares one budget per IP (docs/scaling.md). Either method may reject when the store is unreachable;
 * the caller decides what that means (AuthService fails closed).
 */
export abstract class FailedAuthLimiter {
  /** 0 when `key` may attempt now, else ms until it may. Records nothing. */
  abstract check(key: string): Promise<number>;
  /** Records one failed attempt of `key`. */
  abstract hit(key: string): Promise<void>;
  /** Drops idle keys (a no-op where the store expires them itself). */
  abstract sweep(): void;
  /** Where the counts live, for the log. */
  abstract readonly kind: 'memory' | 'redis';
  /** Reachability of a shared store for health checks; null when there is none (in memory). */
  probe(): Promise<{ ok: boolean; error?: string } | null> {
    return Promise.resolve(null);
  }
}

/** This process only: the sliding log of `KeyedSlidingWindow` (the embedded default). */
export class InMemoryFailedAuthLimiter extends FailedAuthLimiter {
  readonly kind = 'memory';
  private readonly windows: KeyedSlidingWindow;

  constructor(max: number, windowMs: number) {
    super();
    this.windows = new KeyedSlidingWindow(max, windowMs);
  }

  check(key: string): Promise<number> {
    return Promise.resolve(this.windows.check(key));
  }

  hit(key: string): Promise<void> {
    this.windows.hit(key);
    return Promise.resolve();
  }

  sweep(): void {
    this.windows.sweep();
  }
}
