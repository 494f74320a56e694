/**
 * Who may start an agent, and how many may run per tenant (`MAX_ACTIVE_SESSIONS_PER_TENANT`). Pure: the
 * live sessions are passed in, nothing here awaits.
 */
import { can, DomainError, type Role, type SessionState } from '@app/protocol';

/** Starting an agent is a write: viewers watch what runs, they never start it. */
export function canStartAgent(role: Role): boolean {
  return can(role, 'session:write');
}

/** States in which the session holds a Podium instance (being created, running, or being stopped). */
const HOLDS_AGENT: ReadonlySet<SessionState> = new Set([
  'activating',
  'ready',
  'running',
  'waiting',
  'deactivating',
]);

export interface QuotaSession {
  readonly tenantId: string;
  readonly sessionId: string;
  readonly state: SessionState;
}

/**
 * The per-tenant cap on live agents. A start takes its slot synchronously (before its first await), so
 * two starts racing at cap − 1 cannot both pass; the slot is given back once the session's own state
 * counts it (or its start failed).
 */
export class AgentQuota {
  /** Sessions whose start took a slot and has not finished, by tenant. */
  private readonly starting = new Map<string, Set<string>>();

  /** `max` 0 means no cap. */
  constructor(
    private readonly max: number,
    private readonly sessions: () => Iterable<QuotaSession>,
  ) {}

  /** Live agents of a tenant, starts in flight included. */
  used(tenantId: string): number {
    const starting = this.starting.get(tenantId);
    let used = starting?.size ?? 0;
    for (const s of this.sessions()) {
      if (s.tenantId === tenantId && HOLDS_AGENT.has(s.state) && !starting?.has(s.sessionId)) used++;
    }
    return used;
  }

  /**
   * Takes a slot for starting `sessionId`, or throws TOO_MANY_ACTIVE_SESSIONS. Answers the function that
   * gives the slot back (idempotent).
   */
  take(tenantId: string, sessionId: string): () => void {
    if (this.max === 0) return () => undefined;
    if (this.used(tenantId) >= this.max) {
      throw new DomainError(
        'TOO_MANY_ACTIVE_SESSIONS',
        `This tenant already has ${this.max} active sessions; stop one or wait until one goes idle`,
      );
    }
    let starting = this.starting.get(tenantId);
    if (!starting) {
      starting = new Set();
      this.starting.set(tenantId, starting);
    }
    starting.add(sessionId);
    const mine = starting;
    return () => {
      mine.delete(sessionId);
      if (mine.size === 0 && this.starting.get(tenantId) === mine) this.starting.delete(tenantId);
    };
  }
}
