import { SESSION_STATES, type SessionState } from '@app/protocol';
import {
  canTransition,
  hasOpenTurn,
  isLive,
  pathToActivation,
  transition,
  TRANSITIONS,
} from './session-state';

/** The guard map of docs/protocol.md §7, written out independently. */
const ALLOWED: Record<SessionState, SessionState[]> = {
  inactive: ['activating'],
  activating: ['ready', 'error', 'inactive'],
  ready: ['running', 'deactivating', 'inactive', 'error'],
  running: ['ready', 'waiting', 'error', 'deactivating'],
  waiting: ['running', 'ready', 'error', 'deactivating'],
  deactivating: ['inactive'],
  error: ['deactivating', 'inactive'],
};

describe('session state machine', () => {
  const pairs = SESSION_STATES.flatMap((from) => SESSION_STATES.map((to) => [from, to] as const));

  it.each(pairs)('%s → %s follows the guard map', (from, to) => {
    const expected = from === to || ALLOWED[from].includes(to);
    expect(canTransition(from, to)).toBe(expected);
    const t = transition(from, to);
    expect(t.ok).toBe(expected);
    if (t.ok) expect(t.changed).toBe(from !== to);
  });

  it('covers exactly the seven states', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...SESSION_STATES].sort());
  });

  it('only starts activation from inactive; error retries through inactive', () => {
    expect(pathToActivation('inactive')).toEqual(['activating']);
    expect(pathToActivation('error')).toEqual(['inactive', 'activating']);
    for (const s of ['activating', 'ready', 'running', 'waiting', 'deactivating'] as const)
      expect(pathToActivation(s)).toBeNull();
    // every step of each path is itself allowed
    let at: SessionState = 'error';
    for (const step of pathToActivation('error')!) {
      expect(canTransition(at, step)).toBe(true);
      at = step;
    }
  });

  it('classifies open-turn and live states', () => {
    expect(SESSION_STATES.filter(hasOpenTurn)).toEqual(['running', 'waiting']);
    expect(SESSION_STATES.filter(isLive)).toEqual(['ready', 'running', 'waiting']);
  });
});
