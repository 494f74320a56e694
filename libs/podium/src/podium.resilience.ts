import {
  BrokenCircuitError,
  CircuitState as PolicyState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  TimeoutStrategy,
  circuitBreaker,
  handleWhen,
  retry,
  timeout,
  type CircuitBreakerPolicy,
  type GeneratorFn,
  type RetryPolicy,
  type TimeoutPolicy,
} from 'cockatiel';
import { PodiumError } from './podium.errors';

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface ResilienceOptions {
  breakerThreshold: number;
  breakerCooldownMs: number;
  /** Attempts per idempotent call, the first included. */
  retryAttempts: number;
  retryBaseMs: number;
  retryMaxDelayMs: number;
}

/** An upstream answer as the policies see it: only its status matters to them. */
export interface StatusAnswer {
  status: number;
}

/**
 * The outcome of one attempt as the breaker judges it: a network error, a timeout or a 5xx is a
 * failure; any other answer (4xx included) proves the upstream is up.
 */
function breakerFailure(value: unknown): boolean {
  if (value instanceof PodiumError) {
    return value.kind === 'network' || value.kind === 'timeout' || (value.status ?? 0) >= 500;
  }
  return (
    typeof (value as StatusAnswer | undefined)?.status === 'number' && (value as StatusAnswer).status >= 500
  );
}

/** Worth another attempt: any failure but an open circuit, and 5xx or 429 answers. */
function retryable(value: unknown): boolean {
  if (value instanceof PodiumError) return value.kind !== 'circuit_open';
  const status = (value as StatusAnswer | undefined)?.status;
  return typeof status === 'number' && (status >= 500 || status === 429);
}

const JITTER = 0.2;

/** base × 2ⁿ ± 20 %, capped: cockatiel's exponential backoff with a symmetric jitter. */
export const plusMinusJitter: GeneratorFn<number> = (attempt = 0, options) => [
  Math.min(
    options.maxDelay,
    options.initialDelay * options.exponent ** attempt * (1 + (Math.random() * 2 - 1) * JITTER),
  ),
  attempt + 1,
];

/**
 * Podium's resilience as composable cockatiel policies: one consecutive-failure
 * circuit breaker shared by every attempt (HTTP and event-stream handshake alike), a cooperative
 * timeout per attempt whose abort signal cancels the request, and a retry with exponential backoff
 * and jitter around them for idempotent calls. An attempt runs as retry → breaker → timeout.
 *
 * One difference from cockatiel's own half-open behaviour is kept from the contract: while the single
 * half-open probe is in flight, other calls fail fast instead of queueing behind it.
 */
export class PodiumResilience {
  private readonly breaker: CircuitBreakerPolicy;
  private readonly retry: RetryPolicy;
  private readonly timeouts = new Map<number, TimeoutPolicy>();

  constructor(options: ResilienceOptions) {
    this.breaker = circuitBreaker(handleWhen(breakerFailure).orWhenResult(breakerFailure), {
      halfOpenAfter: options.breakerCooldownMs,
      breaker: new ConsecutiveBreaker(options.breakerThreshold),
    });
    this.retry = retry(handleWhen(retryable).orWhenResult(retryable), {
      maxAttempts: Math.max(1, options.retryAttempts) - 1,
      backoff: new ExponentialBackoff({
        initialDelay: options.retryBaseMs,
        maxDelay: options.retryMaxDelayMs,
        exponent: 2,
        generator: plusMinusJitter,
      }),
    });
  }

  get circuitState(): CircuitState {
    switch (this.breaker.state) {
      case PolicyState.Closed:
        return 'closed';
      case PolicyState.HalfOpen:
        return 'half_open';
      default:
        return 'open';
    }
  }

  /** Runs `attempt` under retry (when `retried`), breaker and timeout; see `attempt` for the rest. */
  run<T extends StatusAnswer | object>(
    retried: boolean,
    timeoutMs: number,
    attempt: (signal: AbortSignal) => Promise<T>,
    onCircuitOpen: () => PodiumError,
  ): Promise<T> {
    const once = () => this.attempt(timeoutMs, attempt, onCircuitOpen);
    return retried ? this.retry.execute(once) : once();
  }

  /**
   * One attempt through the breaker, bounded by a cooperative timeout: `attempt` receives the abort
   * signal and must settle when it fires. An open circuit (or a half-open one whose probe is still in
   * flight) rejects at once with `onCircuitOpen()`.
   */
  private async attempt<T>(
    timeoutMs: number,
    attempt: (signal: AbortSignal) => Promise<T>,
    onCircuitOpen: () => PodiumError,
  ): Promise<T> {
    if (this.breaker.state === PolicyState.HalfOpen) throw onCircuitOpen();
    const bounded = this.timeoutOf(timeoutMs);
    try {
      return await this.breaker.execute(() => bounded.execute((_context, signal) => attempt(signal)));
    } catch (err) {
      if (err instanceof BrokenCircuitError) throw onCircuitOpen();
      throw err;
    }
  }

  private timeoutOf(ms: number): TimeoutPolicy {
    let policy = this.timeouts.get(ms);
    if (!policy) {
      policy = timeout(ms, TimeoutStrategy.Cooperative);
      this.timeouts.set(ms, policy);
    }
    return policy;
  }
}
