/**
 * The session state machine (docs/protocol.md §7) as pure functions: given the
 * current state and a wanted next state, the guard map says yes or no. No I/O, no DI.
 */
import type { SessionState } from '@app/protocol';

export const TRANSITIONS: Readonly<Record<SessionState, ReadonlySet<SessionState>>> = {
  inactive: new Set(['activating']),
  activating: new Set(['ready', 'error', 'inactive']),
  ready: new Set(['running', 'deactivating', 'inactive', 'error']),
  running: new Set(['ready', 'waiting', 'error', 'deactivating']),
  waiting: new Set(['running', 'ready', 'error', 'deactivating']),
  deactivating: new Set(['inactive']),
  error: new Set(['deactivating', 'inactive']),
};

export type Transition =
  | { ok: true; from: SessionState; to: SessionState; changed: boolean }
  | { ok: false; from: SessionState; to: SessionState };

/** A self-transition is a no-op (allowed, `changed: false`); anything outside the guard map is refused. */
export function transition(from: SessionState, to: SessionState): Transition {
  if (from === to) return { ok: true, from, to, changed: false };
  return TRANSITIONS[from].has(to) ? { ok: true, from, to, changed: true } : { ok: false, from, to };
}

export function canTransition(from: SessionState, to: SessionState): boolean {
  return transition(from, to).ok;
}

/** States in which a turn is open. */
export function hasOpenTurn(state: SessionState): boolean {
  return state === 'running' || state === 'waiting';
}

/** States in which the agent instance is connected. */
export function isLive(state: SessionState): boolean {
  return state === 'ready' || state === 'running' || state === 'waiting';
}

/**
 * The path from `from` to `activating`: activation may start only from `inactive`, so a retry after
 * `error` runs error → inactive → activating (spec README decision).
 */
export function pathToActivation(from: SessionState): SessionState[] | null {
  if (from === 'inactive') return ['activating'];
  if (from === 'error') return ['inactive', 'activating'];
  return null;
}
