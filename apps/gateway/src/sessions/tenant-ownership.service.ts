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
import type { ClusterConfig } from '../cluster/cluster.config';
import { CLUSTER_CONFIG } from '../cluster/cluster.tokens';
import { ClusterBus } from '../cluster/cluster-bus';
import { Forwarder } from '../cluster/forwarder.service';
import { TenantLeases } from '../cluster/tenant-leases';
import { ConnectionRegistry } from '../connection/connection-registry';
import { RemoteHost } from '../connection/remote-host.service';
import { HealthComponents } from '../health/health-components';
import { LifecycleService } from '../lifecycle/lifecycle.service';
import { SessionRuntime } from './session-runtime.service';

/**
 * What a tenant lease means for this instance's data (lease mode): registries and session writes are
 * fenced by the lease token; winning a lease recovers the tenant's stale sessions before any client is
 * served; losing one closes the tenant's clients (1012: reconnect) and drops its live sessions without
 * a write; an idle tenant is released; shutdown releases every lease after the databases are closed.
 */
@Injectable()
export class TenantOwnership implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(TenantOwnership.name);
  private readonly idleSince = new Map<string, number>();
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(CLUSTER_CONFIG) private readonly config: ClusterConfig,
    private readonly leases: TenantLeases,
    private readonly runtime: SessionRuntime,
    private readonly registry: TenantRegistry,
    private readonly store: SessionStore,
    private readonly connections: ConnectionRegistry,
    private readonly lifecycle: LifecycleService,
    private readonly health: HealthComponents,
    private readonly forwarder: Forwarder,
    private readonly remotes: RemoteHost,
    private readonly bus: ClusterBus,
  ) {}

  onModuleInit(): void {
    if (!this.leases.enabled) return;
    this.registry.useFence(this.leases);
    this.store.useFence(this.leases);
    this.leases.useFenceFloor((t) => this.registry.fenceToken(t as TenantId));
    this.leases.onAcquired(async (t) => {
      await this.registry.closeTenant(t as TenantId);
      const reset = await this.runtime.recoverTenant(t as TenantId);
      if (reset > 0) this.logger.log(`tenant ${t}: ${reset} stale session(s) recovered at takeover`);
    });
    this.leases.onLost(async (t) => {
      this.idleSince.delete(t);
      this.closeClients(t, 'tenant moved to another instance');
      const dropped = await this.runtime.abandonTenant(t);
      await this.registry.closeTenant(t as TenantId);
      this.logger.warn(`tenant ${t}: ${dropped} live session(s) dropped after losing its lease`);
    });
    this.health.addFigures(() => ({
      cluster: {
        member: this.leases.member,
        ownedTenants: this.leases.heldTenants().length,
        /** Clients connected here whose tenant is owned by another instance. */
        forwardedClients: this.forwarder.count,
        /** Clients of other instances hosted here (they are also in `connections`). */
        hostedClients: this.remotes.count,
      },
    }));
  }

  onApplicationBootstrap(): void {
    if (!this.leases.enabled) return;
    // Registered last: runs after the agents are stopped and the databases flushed and closed.
    this.lifecycle.addShutdownStep({
      name: 'release tenant leases',
      run: async () => {
        // Hosted clients of other instances hear 1001 before this instance's presence disappears.
        for (const conn of [...this.connections.values()]) {
          if (conn.remote) conn.close(CloseCode.GOING_AWAY, 'server shutting down');
        }
        this.bus.flush();
        await this.leases.releaseAll();
      },
    });
    if (this.config.idleReleaseMs > 0) {
      this.timer = setInterval(() => void this.releaseIdle(), this.config.renewMs);
      this.timer.unref();
    }
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
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
      if (busy.has(t) || this.runtime.liveCount(t) > 0) {
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
        await this.runtime.deactivateTenant(t, 'released');
        await this.store.writer.flush();
        await this.registry.closeTenant(t as TenantId);
      });
    }
  }
}
