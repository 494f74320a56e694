export type CircuitState = 'closed' | 'open' | 'half_open';

/**
 * Consecutive-failure circuit breaker (architecture.md §7.5). Closed: calls pass; `threshold`
 * consecutive failures open it. Open: calls fail fast until `cooldownMs` has passed, then exactly one
 * probe call is let through (half-open): its success closes the breaker, its failure re-opens it for
 * another cooldown. Callers report each admitted call with `success()` or `failure()`.
 */
export class CircuitBreaker {
  private state: CircuitState = 'closed';
  private consecutiveFailures = 0;
  private openedAt = 0;
  private probeInFlight = false;

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get current(): CircuitState {
    return this.state;
  }

  /** True when the call may proceed; false when it must fail fast. */
  tryAcquire(): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open') {
      if (this.now() - this.openedAt < this.cooldownMs) return false;
      this.state = 'half_open';
      this.probeInFlight = true;
      return true;
    }
    // half-open: only the single probe is admitted.
    if (this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  /** The upstream answered (any 2xx–4xx status, or a completed WebSocket handshake). */
  success(): void {
    this.state = 'closed';
    this.consecutiveFailures = 0;
    this.probeInFlight = false;
  }

  /** Network error, timeout or 5xx. */
  failure(): void {
    if (this.state === 'half_open') {
      this.trip();
      return;
    }
    if (this.state === 'open') return; // a straggler that started before the breaker opened
    this.consecutiveFailures += 1;
    if (this.consecutiveFailures >= this.threshold) this.trip();
  }

  private trip(): void {
    this.state = 'open';
    this.openedAt = this.now();
    this.probeInFlight = false;
  }
}
