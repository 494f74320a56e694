/** Why a Podium call failed. `http` covers non-success statuses and unusable 2xx bodies. */
export type PodiumErrorKind = 'network' | 'timeout' | 'http' | 'circuit_open';

/**
 * A failed Podium call (HTTP or event stream). The message names the method, the route template and
 * the status; it never contains the API key, a request body or an upstream response body.
 * Map it at the edge to `AGENT_UNAVAILABLE` / `UPSTREAM_ERROR`.
 */
export class PodiumError extends Error {
  constructor(
    readonly kind: PodiumErrorKind,
    message: string,
    readonly status?: number,
    readonly route?: string,
  ) {
    super(message);
    this.name = 'PodiumError';
  }
}

export function isPodiumError(value: unknown): value is PodiumError {
  return value instanceof PodiumError;
}
