import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { SessionId, TenantId } from '@app/common';
import { SessionStore, TenantRegistry } from '@app/persistence';
import { PodiumClient } from '@app/podium';
import type { AllConfig } from '../config';
import { LiveSessions } from './live-sessions';
import { TurnBilling } from './turn-billing';

/** Recovery visits this many tenants at a time. */
const RECOVERY_CONCURRENCY = 4;

/**
 * Stale sessions (persisted live, but no process here runs them) reset to inactive. Without tenant
 * leases, every tenant is recovered at start, in the background; with them, a tenant is recovered when
 * its lease is won (`TenantOwnership` calls `recoverTenant` with the lease's token).
 */
@Injectable()
export class Recovery implements OnApplicationBootstrap {
  private readonly logger = new Logger(Recovery.name);
  private readonly leases: boolean;
  /** Resolves when start-up recovery has finished. */
  recovery: Promise<{ tenants: number; sessions: number }> = Promise.resolve({ tenants: 0, sessions: 0 });

  constructor(
    config: ConfigService<AllConfig, true>,
    private readonly live: LiveSessions,
    private readonly registry: TenantRegistry,
    private readonly store: SessionStore,
    private readonly podium: PodiumClient,
    private readonly billing: TurnBilling,
  ) {
    this.leases = config.get('cluster', { infer: true }).leases;
  }

  onApplicationBootstrap(): void {
    if (!this.leases) this.recovery = this.recoverStaleSessions();
  }

  /**
   * One tenant's stale sessions reset to inactive, their instances stopped best effort, their open
   * reservations released. `token` (lease mode) claims each session's file first, so a paused former
   * owner can no longer write it. Answers how many were reset.
   */
  async recoverTenant(t: TenantId, token = 0): Promise<number> {
    const stale = await this.registry.staleSessions(t);
    for (const row of stale) {
      if (this.live.has(row.id)) continue;
      if (token > 0) {
        await this.store.claimSession(row.id as SessionId, token).catch((err: Error) => {
          this.logger.warn(`claiming the database of session ${row.id} failed: ${err.message}`);
        });
      }
      if (row.instanceId) void this.podium.stopInstance(row.instanceId).catch(() => undefined);
      await this.registry.updateSession(t, row.id as SessionId, {
        status: 'inactive',
        instanceId: null,
        updatedAt: Date.now(),
      });
    }
    await this.billing.recover(t);
    return stale.length;
  }

  /**
   * At start, in the background: every session persisted in a state other than `inactive` belongs to
   * a process that is gone; reset it to inactive, stop its instance best effort, release its credits.
   */
  private async recoverStaleSessions(): Promise<{ tenants: number; sessions: number }> {
    const started = Date.now();
    const tenants = await this.registry.listTenants();
    let sessions = 0;
    let failures = 0;
    const queue = [...tenants];
    const worker = async () => {
      for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
        try {
          sessions += await this.recoverTenant(t);
        } catch (err) {
          failures++;
          this.logger.warn(`stale session recovery failed for tenant ${t}: ${(err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(RECOVERY_CONCURRENCY, tenants.length) }, worker));
    this.logger.log(
      `stale session recovery: ${tenants.length} tenants scanned, ${sessions} sessions reset to inactive, ${failures} failures, ${Date.now() - started} ms`,
    );
    return { tenants: tenants.length, sessions };
  }
}
