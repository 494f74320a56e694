import type { Diminuendo } from './client';
import type { Frame, SessionMeta } from './wire';

export interface SessionListSnapshot {
  sessions: SessionMeta[];
  loaded: boolean;
}

/**
 * The tenant's sessions, loaded with `list_sessions` (again after every reconnect) and kept current
 * from the gateway's broadcasts (created, renamed, archived, deleted, state changes), so every tab
 * sees the same list. `subscribe` / `getSnapshot` fit React's `useSyncExternalStore`.
 */
export class SessionList {
  private snapshot: SessionListSnapshot = { sessions: [], loaded: false };
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly client: Diminuendo,
    private readonly includeArchived = true,
  ) {
    client.on('frame', (frame) => this.apply(frame));
    client.on('authenticated', () => void this.refresh().catch(() => undefined));
    if (client.state === 'open') void this.refresh().catch(() => undefined);
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
  readonly getSnapshot = (): SessionListSnapshot => this.snapshot;

  async refresh(): Promise<void> {
    const list = await this.client.request<Extract<Frame, { type: 'session_list' }>>({
      type: 'list_sessions',
      includeArchived: this.includeArchived,
    });
    this.set(sortSessions(list.sessions), true);
  }

  private apply(frame: Frame): void {
    const current = this.snapshot.sessions;
    switch (frame.type) {
      case 'session_created':
      case 'session_renamed':
      case 'session_archived':
      case 'session_unarchived':
        return this.set(sortSessions([frame.session, ...current.filter((s) => s.id !== frame.session.id)]));
      case 'session_deleted':
        return this.set(current.filter((s) => s.id !== frame.sessionId));
      case 'session_state':
      case 'state_snapshot': {
        const status = frame.type === 'session_state' ? frame.state : frame.session.status;
        const id = frame.sessionId;
        if (!current.some((s) => s.id === id && s.status !== status)) return;
        return this.set(current.map((s) => (s.id === id ? { ...s, status } : s)));
      }
    }
  }

  private set(sessions: SessionMeta[], loaded = this.snapshot.loaded): void {
    this.snapshot = { sessions, loaded };
    for (const listener of [...this.listeners]) listener();
  }
}

function sortSessions(sessions: SessionMeta[]): SessionMeta[] {
  return [...sessions].sort((a, b) => (b.lastActivityAt ?? b.createdAt) - (a.lastActivityAt ?? a.createdAt));
}
