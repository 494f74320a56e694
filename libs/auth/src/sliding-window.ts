/**
 * A sliding-log limiter: at most `max` hits per `windowMs`. `hit()` answers 0 when allowed, or how many
 * ms until the next hit would be allowed. Memory is bounded by `max` timestamps per key.
 */
export class SlidingWindow {
  private readonly log: number[] = [];

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /** Records a hit if allowed. */
  hit(now = Date.now()): number {
    const wait = this.check(now);
    if (wait === 0) this.log.push(now);
    return wait;
  }

  /** 0 if a hit would be allowed now, else ms to wait. Does not record. */
  check(now = Date.now()): number {
    this.prune(now);
    if (this.log.length < this.max) return 0;
    return Math.max(1, this.log[0] + this.windowMs - now);
  }

  isEmpty(now = Date.now()): boolean {
    this.prune(now);
    return this.log.length === 0;
  }

  private prune(now: number): void {
    const cutoff = now - this.windowMs;
    let drop = 0;
    while (drop < this.log.length && this.log[drop] <= cutoff) drop++;
    if (drop > 0) this.log.splice(0, drop);
  }
}

/** Per-key sliding windows (e.g. per IP), with idle keys swept. */
export class KeyedSlidingWindow {
  private readonly windows = new Map<string, SlidingWindow>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  hit(key: string, now = Date.now()): number {
    let w = this.windows.get(key);
    if (!w) {
      w = new SlidingWindow(this.max, this.windowMs);
      this.windows.set(key, w);
    }
    return w.hit(now);
  }

  check(key: string, now = Date.now()): number {
    return this.windows.get(key)?.check(now) ?? 0;
  }

  sweep(now = Date.now()): void {
    for (const [key, w] of this.windows) if (w.isEmpty(now)) this.windows.delete(key);
  }

  get size(): number {
    return this.windows.size;
  }
}
