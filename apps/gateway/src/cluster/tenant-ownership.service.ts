import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { TenantId } from '@app/common';
import { SessionStore, TenantRegistry } from '@app/persistence';
import { CloseCode } from '@app/protocol';
import { ConnectionRegistry } from '../connection/connection-registry';
import { OnGatewayEvent, type GatewayEventMap } from '../connection/gateway-events';
import { LiveSessions } from '../live/live-sessions';
import { Recovery } from '../live/recovery.service';
import { Teardown } from '../live/teardown.service';
import type { ClusterConfig } from '../config/cluster.config';
import { CLUSTER_CONFIG } from './cluster.tokens';
import { TenantLeases } from './tenant-leases';

/**
 * What a tenant lease means for this instance's data (lease mode): registries and session writes are
 * fenced by the lease token; winning a lease recovers the tenant's stale sessions before any client is
 * served; losing one closes the tenant's clients (1012: reconnect) and drops its live sessions without
 * a write; an idle tenant is released. At start, only tenants with stale sessions and no live owner are
 * taken (their recovery runs when the lease is won); the others are left to whoever owns them or first
 * serves them.
 */
@Injectable()
export class TenantOwnership implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(TenantOwnership.name);
  private readonly idleSince = new Map<string, number>();
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(CLUSTER_CONFIG) private readonly config: ClusterConfig,
    private readonly leases: TenantLeases,
    private readonly registry: TenantRegistry,
    private readonly store: SessionStore,
    private readonly connections: ConnectionRegistry,
    private readonly live: LiveSessions,
    private readonly teardown: Teardown,
    private readonly recovery: Recovery,
  ) {}

  onModuleInit(): void {
    if (!this.leases.enabled) return;
    this.registry.useFence(this.leases);
    this.store.useFence(this.leases);
    this.leases.useFenceFloor((t) => this.registry.fenceToken(t as TenantId));
    this.leases.onAcquired(async (t) => {
      await this.registry.closeTenant(t as TenantId);
      const reset = await this.recovery.recoverTenant(t as TenantId, this.leases.tokenFor(t));
      if (reset > 0) this.logger.log(`tenant ${t}: ${reset} stale session(s) recovered at takeover`);
    });
    this.leases.onLost(async (t) => {
      this.idleSince.delete(t);
      this.closeClients(t, 'tenant moved to another instance');
      const dropped = await this.teardown.abandonTenant(t);
      await this.registry.closeTenant(t as TenantId);
      this.logger.warn(`tenant ${t}: ${dropped} live session(s) dropped after losing its lease`);
    });
  }

  onApplicationBootstrap(): void {
    if (!this.leases.enabled) return;
    void this.recoverOrphanedTenants().catch((err: Error) =>
      this.logger.warn(`stale session recovery (lease mode) failed: ${err.message}`),
    );
    if (this.config.idleReleaseMs > 0) {
      this.timer = setInterval(() => void this.releaseIdle(), this.config.renewMs);
      this.timer.unref();
    }
  }

  /** A session becoming live here: its writes are fenced with its tenant's lease. */
  @OnGatewayEvent('live.session_opening')
  sessionOpening({ tenantId, sessionId }: GatewayEventMap['live.session_opening']): void {
    if (this.leases.enabled) this.leases.noteSession(sessionId, tenantId);
  }

  @OnGatewayEvent('session.deleted')
  sessionDeleted({ sessionId }: GatewayEventMap['session.deleted']): void {
    this.leases.forgetSession(sessionId);
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** At start (lease mode): tenants with stale sessions and no live owner are taken over. */
  private async recoverOrphanedTenants(): Promise<{ tenants: number; sessions: number }> {
    let tenants = 0;
    let sessions = 0;
    for (const t of await this.registry.listTenants()) {
      try {
        const stale = await this.registry.staleSessions(t);
        if (stale.length === 0 || !(await this.leases.claimIfFree(t))) continue;
        tenants++;
        sessions += stale.length;
      } catch (err) {
        this.logger.warn(`stale session recovery failed for tenant ${t}: ${(err as Error).message}`);
      }
    }
    this.logger.log(
      `stale session recovery (lease mode): ${tenants} orphaned tenants taken over, ${sessions} sessions reset`,
    );
    return { tenants, sessions };
  }

  private closeClients(tenantId: string, reason: string): void {
    for (const conn of [...this.connections.values()]) {
      if (conn.tenantId === tenantId && !conn.forward) conn.close(CloseCode.SERVICE_RESTART, reason);
    }
  }

  /** Tenants with no client and no live session here for LEASE_IDLE_RELEASE_MS are given back. */
  private async releaseIdle(): Promise<void> {
    try {
      await this.releaseIdleTenants();
    } catch (err) {
      this.logger.error(`idle release failed: ${(err as Error).message}`);
    }
  }

  private async releaseIdleTenants(): Promise<void> {
    const now = Date.now();
    // One pass over the connections per tick; a client arriving later is closed by the release itself.
    const busy = new Set<string>();
    for (const conn of this.connections.values()) if (conn.tenantId && !conn.forward) busy.add(conn.tenantId);
    for (const t of this.leases.heldTenants()) {
      if (!this.leases.holds(t)) continue; // still being taken over, or already on its way out
      if (busy.has(t) || this.live.liveCount(t) > 0) {
        this.idleSince.delete(t);
        continue;
      }
      const since = this.idleSince.get(t) ?? now;
      this.idleSince.set(t, since);
      if (now - since < this.config.idleReleaseMs) continue;
      this.idleSince.delete(t);
      // Not served from here on; a client that slipped in meanwhile is closed and its sessions stopped.
      await this.leases.release(t, async () => {
        this.closeClients(t, 'tenant released');
        await this.teardown.deactivateTenant(t, 'released');
        await this.store.writer.flush();
        await this.registry.closeTenant(t as TenantId);
      });
    }
  }
}
