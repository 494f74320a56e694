/** Reconnect delays: exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"). */
export interface BackoffOptions {
  /** First retry's upper bound (ms). Default 500. */
  baseMs?: number;
  /** Upper bound of any delay (ms). Default 30,000. */
  capMs?: number;
}

/** Delay before reconnect attempt `attempt` (0-based): uniform in [0, min(cap, base·2^attempt)]. */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  const base = options.baseMs ?? 500;
  const cap = options.capMs ?? 30_000;
  return Math.floor(random() * Math.min(cap, base * 2 ** Math.min(attempt, 30)));
}

/**
 * Delay after `server_shutdown {reconnectAfterMs}`: at least what the gateway asked for, spread over
 * as much again (capped) so that a fleet of clients does not reconnect in the same instant.
 */
export function shutdownDelay(
  reconnectAfterMs: number,
  options: BackoffOptions,
  random: () => number,
): number {
  const spread = Math.min(reconnectAfterMs, options.capMs ?? 30_000);
  return Math.floor(reconnectAfterMs + random() * spread);
}

/** Seconds-since-epoch `exp` of a JWT, or undefined for anything else (API keys, opaque tokens). */
export function tokenExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = JSON.parse(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4))) as { exp?: unknown };
    return typeof json.exp === 'number' ? json.exp : undefined;
  } catch {
    return undefined;
  }
}
