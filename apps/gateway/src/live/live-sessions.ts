import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { KeyedMutex, type SessionId, type TenantId } from '@app/common';
import type { SessionState } from '@app/protocol';
import type { AllConfig } from '../config';
import { GatewayEvents } from '../connection/gateway-events';
import { ActiveSession } from './active-session';
import { AgentQuota } from './agent-quota';

/**
 * The sessions live on this instance (every session that is not `inactive`), the per-session lock
 * activation and teardown share, and the per-tenant cap on live agents.
 */
@Injectable()
export class LiveSessions {
  private readonly active = new Map<string, ActiveSession>();
  private readonly mutex = new KeyedMutex();
  readonly quota: AgentQuota;

  constructor(
    config: ConfigService<AllConfig, true>,
    private readonly events: GatewayEvents,
  ) {
    const cap = config.get('app', { infer: true }).sessions.maxActivePerTenant;
    this.quota = new AgentQuota(cap, () => this.active.values());
  }

  get(sessionId: string): ActiveSession | undefined {
    return this.active.get(sessionId);
  }

  has(sessionId: string): boolean {
    return this.active.has(sessionId);
  }

  /** The state a session's metadata reports: its live state here, or `inactive`. */
  statusOf(sessionId: string): SessionState {
    return this.active.get(sessionId)?.state ?? 'inactive';
  }

  /** A new live record (not yet registered): announced first, so ownership can vouch for its writes. */
  open(tenantId: TenantId, sessionId: SessionId, agentType: string): ActiveSession {
    this.events.emit('live.session_opening', { tenantId, sessionId });
    return new ActiveSession(tenantId, sessionId, agentType);
  }

  add(active: ActiveSession): void {
    this.active.set(active.sessionId, active);
  }

  /** Removes the record if it is still the one registered; answers whether it was. */
  remove(active: ActiveSession): boolean {
    if (this.active.get(active.sessionId) !== active) return false;
    this.active.delete(active.sessionId);
    return true;
  }

  /** Runs `fn` alone for this session (activation and teardown never interleave). */
  lock<T>(sessionId: string, fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(sessionId, fn);
  }

  all(): ActiveSession[] {
    return [...this.active.values()];
  }

  get size(): number {
    return this.active.size;
  }

  ofTenant(tenantId: string): ActiveSession[] {
    return this.all().filter((a) => a.tenantId === tenantId);
  }

  /** Live sessions of a tenant here. */
  liveCount(tenantId: string): number {
    return this.ofTenant(tenantId).length;
  }

  /** Sessions by state, for health and metrics. */
  countByState(): Record<SessionState, number> {
    const counts = {
      inactive: 0,
      activating: 0,
      ready: 0,
      running: 0,
      waiting: 0,
      deactivating: 0,
      error: 0,
    };
    for (const a of this.active.values()) counts[a.state]++;
    return counts;
  }
}
