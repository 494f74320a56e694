import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { SessionId, TenantId } from '@app/common';
import { KeyedMutex } from '@app/common';
import { SessionStore, TenantRegistry, type SessionRow } from '@app/persistence';
import { PodiumClient, type PodiumConnection } from '@app/podium';
import { DomainError, type SessionDeletedEvent, type SessionState, type TurnErrorCode } from '@app/protocol';
import type { AllConfig, AppConfig } from '../config';
import { TenantLeases } from '../cluster/tenant-leases';
import type { Connection } from '../connection/connection';
import { ConnectionService } from '../connection/connection.service';
import { Broadcaster, sessionTopic } from '../events/broadcaster';
import { EventPipeline } from '../events/event-pipeline';
import { EventPublisher } from '../events/event-publisher';
import { HealthComponents } from '../health/health-components';
import { LifecycleService } from '../lifecycle/lifecycle.service';
import { TurnBilling } from '../turns/turn-billing';
import { TurnFinisher } from '../turns/turn-finisher.service';
import { ActiveSession } from './active-session';
import { AgentQuota } from './agent-quota';
import { SessionHooks } from './session-hooks';
import { isLive, pathToActivation } from './session-state';
import { SessionStates } from './session-states.service';

/** Recovery visits this many tenants at a time. */
const RECOVERY_CONCURRENCY = 4;

/**
 * Live sessions: activation (create the agent instance, open its event stream, `ready`), deactivation
 * (close, stop the instance, `inactive`), agent connection loss and stalls, idle reaping, heartbeats,
 * stale-session recovery at start, and the agent tear-down at shutdown.
 */
@Injectable()
export class SessionRuntime implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SessionRuntime.name);
  private readonly active = new Map<string, ActiveSession>();
  private readonly mutex = new KeyedMutex();
  private readonly cfg: AppConfig;
  private readonly quota: AgentQuota;
  private reaper?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  /** Resolves when stale-session recovery has finished (for tests and the health figures). */
  recovery: Promise<{ tenants: number; sessions: number }> = Promise.resolve({ tenants: 0, sessions: 0 });

  constructor(
    config: ConfigService<AllConfig, true>,
    private readonly registry: TenantRegistry,
    private readonly store: SessionStore,
    private readonly podium: PodiumClient,
    private readonly publisher: EventPublisher,
    private readonly pipeline: EventPipeline,
    private readonly states: SessionStates,
    private readonly finisher: TurnFinisher,
    private readonly billing: TurnBilling,
    private readonly broadcaster: Broadcaster,
    private readonly hooks: SessionHooks,
    private readonly connections: ConnectionService,
    private readonly lifecycle: LifecycleService,
    private readonly health: HealthComponents,
    private readonly leases: TenantLeases,
  ) {
    this.cfg = config.get('app', { infer: true });
    this.quota = new AgentQuota(this.cfg.sessions.maxActivePerTenant, () => this.active.values());
  }

  onModuleInit(): void {
    this.hooks.register({
      liveStatus: (id) => this.active.get(id)?.state ?? 'inactive',
      beforeArchive: async (_tenant, id) => this.deactivateById(id, 'archived'),
      beforeDelete: async (_tenant, id, event) => this.forget(id as SessionId, event),
    });
    this.connections.onClose((conn) => this.disconnect(conn));
    this.pipeline.onActivity = (active) => this.armStallTimer(active);
    this.lifecycle.addShutdownStep({ name: 'stop agents', run: () => this.stopAll() });
    this.lifecycle.addShutdownStep({
      name: 'flush writer and close databases',
      run: async () => {
        await this.store.shutdown();
        await this.registry.closeAll();
      },
    });
    this.health.addFigures(() => ({
      activeSessions: this.active.size,
      sessionsByState: this.countByState(),
      writer: { ...this.store.writer.stats, queued: this.store.writer.queueDepth },
    }));
    this.reaper = setInterval(() => this.reap(), this.cfg.sessions.reaperIntervalMs).unref();
    this.heartbeat = setInterval(() => this.beat(), this.cfg.ws.heartbeatIntervalMs).unref();
  }

  onApplicationBootstrap(): void {
    this.recovery = this.leases.enabled ? this.recoverOrphanedTenants() : this.recoverStaleSessions();
  }

  onModuleDestroy(): void {
    if (this.reaper) clearInterval(this.reaper);
    if (this.heartbeat) clearInterval(this.heartbeat);
  }

  get(sessionId: string): ActiveSession | undefined {
    return this.active.get(sessionId);
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

  /**
   * Brings a session to a live state: an inactive (or failed) session is activated; a session being
   * activated is waited for. Throws AGENT_UNAVAILABLE when the agent cannot be started, and
   * TOO_MANY_ACTIVE_SESSIONS (Podium not asked) when the tenant has its cap of live agents.
   * With `mayStart` false (a viewer), only a live session, or one whose activation is already under way,
   * is answered; otherwise FORBIDDEN.
   */
  ensureLive(
    tenantId: TenantId,
    row: SessionRow & { id: SessionId },
    mayStart = true,
  ): Promise<ActiveSession> {
    const current = this.active.get(row.id);
    if (current && isLive(current.state)) return Promise.resolve(current);
    return this.mutex.run(row.id, () => this.activate(tenantId, row, mayStart));
  }

  private async activate(
    tenantId: TenantId,
    row: SessionRow & { id: SessionId },
    mayStart: boolean,
  ): Promise<ActiveSession> {
    const active = this.active.get(row.id);
    if (active && isLive(active.state)) return active;
    if (!mayStart) {
      throw new DomainError('FORBIDDEN', 'The session is not active, and your role cannot start its agent');
    }
    // The slot is taken before the first await: concurrent starts at the cap cannot both pass.
    let giveBack: () => void;
    try {
      giveBack = this.quota.take(tenantId, row.id);
    } catch (err) {
      this.logger.warn(`tenant ${tenantId}: start of session ${row.id} refused, live agent cap reached`);
      throw err;
    }
    try {
      return await this.start(tenantId, row, active);
    } finally {
      giveBack();
    }
  }

  private async start(
    tenantId: TenantId,
    row: SessionRow & { id: SessionId },
    existing: ActiveSession | undefined,
  ): Promise<ActiveSession> {
    let active = existing;
    if (!active) {
      if (this.leases.enabled) this.leases.noteSession(row.id, tenantId);
      active = new ActiveSession(tenantId, row.id, row.agentType);
      await this.publisher.initSeq(active, Number(row.lastSeq ?? 0));
      this.active.set(row.id, active);
    }
    const path = pathToActivation(active.state);
    if (!path) throw new DomainError('INVALID_STATE', `Session is ${active.state}`);
    for (const step of path) this.states.set(active, step);

    let instanceId: string | undefined;
    try {
      const created = await withTimeout(
        this.podium.createInstance({ agentType: row.agentType, agentId: row.id }),
        this.cfg.sessions.activationTimeoutMs,
      );
      instanceId = created.instanceId;
      active.instanceId = instanceId;
      void this.registry.updateSession(tenantId, row.id, { instanceId }).catch(() => undefined);
      const connection = await withTimeout(
        this.podium.connect(instanceId),
        this.cfg.sessions.activationTimeoutMs,
      );
      this.wire(active, connection);
      this.states.set(active, 'ready');
      this.logger.log(`session ${row.id} active on instance ${instanceId}`);
      return active;
    } catch (err) {
      this.logger.warn(`activation of session ${row.id} failed: ${(err as Error).message}`);
      this.states.trySet(active, 'error', 'activation failed');
      if (instanceId) void this.podium.stopInstance(instanceId).catch(() => undefined);
      active.instanceId = undefined;
      throw new DomainError('AGENT_UNAVAILABLE', 'The agent could not be started');
    }
  }

  private wire(active: ActiveSession, connection: PodiumConnection): void {
    active.podium = connection;
    connection.on('event', (frame) => this.pipeline.ingest(active, frame));
    connection.on('reconnecting', ({ attempt }) =>
      this.logger.warn(`session ${active.sessionId}: agent stream lost, reconnecting (${attempt})`),
    );
    connection.on('reconnected', () =>
      this.logger.log(`session ${active.sessionId}: agent stream reconnected`),
    );
    connection.on('lost', ({ reason }) => {
      if (active.podium !== connection) return;
      this.fail(active, 'AGENT_UNAVAILABLE', `Lost the connection to the agent (${reason})`);
    });
  }

  /** An unrecoverable agent failure: the open turn ends in turn_error, the session goes to `error`. */
  fail(active: ActiveSession, code: TurnErrorCode, message: string): void {
    if (active.turn) this.finisher.finish(active, { kind: 'error', code, message }, 'error');
    else this.states.trySet(active, 'error', code);
    const connection = active.podium;
    active.podium = undefined;
    void connection?.close().catch(() => undefined);
    if (active.instanceId) void this.podium.stopInstance(active.instanceId).catch(() => undefined);
    active.instanceId = undefined;
  }

  /** Restarts the stall timer of the open turn (called on every upstream frame and at dispatch). */
  armStallTimer(active: ActiveSession): void {
    const turn = active.turn;
    if (!turn) return;
    if (turn.stallTimer) clearTimeout(turn.stallTimer);
    turn.stallTimer = setTimeout(() => {
      if (active.turn !== turn || active.state === 'waiting') return;
      this.logger.warn(`session ${active.sessionId}: agent stalled`);
      this.fail(active, 'UPSTREAM_STALLED', 'The agent stopped responding');
    }, this.cfg.sessions.turnStallTimeoutMs);
    turn.stallTimer.unref();
  }

  deactivateById(sessionId: string, reason: string): Promise<void> {
    const active = this.active.get(sessionId);
    return active ? this.deactivate(active, reason) : Promise.resolve();
  }

  /** Tears a session down to `inactive`; stopping the instance may fail (logged), the state still ends inactive. */
  deactivate(active: ActiveSession, reason: string): Promise<void> {
    return this.mutex.run(active.sessionId, async () => {
      if (this.active.get(active.sessionId) !== active) return;
      if (active.state !== 'inactive') {
        if (active.turn) {
          this.finisher.finish(
            active,
            { kind: 'error', code: 'SESSION_DEACTIVATED', message: `Session ${reason}` },
            'deactivating',
          );
        }
        this.states.trySet(active, 'deactivating', reason);
        const connection = active.podium;
        active.podium = undefined;
        await connection?.close().catch(() => undefined);
        if (active.instanceId) {
          await this.podium
            .stopInstance(active.instanceId)
            .catch((err: Error) => this.logger.warn(`stopping instance failed: ${err.message}`));
        }
        active.instanceId = undefined;
        this.states.trySet(active, 'inactive', reason);
      }
      await this.registry
        .updateSession(active.tenantId, active.sessionId, { instanceId: null, status: 'inactive' })
        .catch(() => undefined);
      await this.publisher.persistLastSeq(active).catch(() => undefined);
      this.active.delete(active.sessionId);
    });
  }

  /** Before a delete: tear down, tell the session's viewers, unsubscribe them, close its database. */
  private async forget(sessionId: SessionId, event: SessionDeletedEvent): Promise<void> {
    await this.deactivateById(sessionId, 'deleted');
    // Not published on the session topic: every viewer is also on the tenant topic, where
    // SessionsService announces it (the requester gets it as its answer), so each client gets it once.
    void event;
    const topic = sessionTopic(sessionId);
    for (const conn of this.connections.subscribersOf(topic)) {
      this.broadcaster.unsubscribe(topic, conn);
      conn.joined.delete(sessionId);
    }
    await this.store.forget(sessionId);
    this.leases.forgetSession(sessionId);
  }

  private async disconnect(conn: Connection): Promise<void> {
    for (const id of conn.joined) this.broadcaster.unsubscribe(sessionTopic(id), conn);
    conn.joined.clear();
  }

  private reap(): void {
    const now = Date.now();
    for (const active of this.active.values()) {
      if (this.broadcaster.subscriberCount(sessionTopic(active.sessionId)) > 0) continue;
      const idle = active.state === 'ready' && now - active.lastActivityAt > this.cfg.sessions.idleTimeoutMs;
      const waitedOut =
        active.state === 'waiting' && now - (active.waitingSince ?? now) > this.cfg.sessions.waitingTimeoutMs;
      const failed =
        active.state === 'error' && now - active.lastActivityAt > this.cfg.sessions.idleTimeoutMs;
      if (idle || waitedOut || failed) void this.deactivate(active, 'idle');
    }
  }

  private beat(): void {
    const frame = JSON.stringify({ type: 'heartbeat', ts: Date.now() });
    for (const topic of this.broadcaster.topics('session:'))
      this.broadcaster.publishFrame(topic, frame, { ephemeral: true });
  }

  /** Shutdown: every live agent stopped, best effort, within a third of the shutdown budget. */
  private async stopAll(): Promise<void> {
    const all = [...this.active.values()];
    if (all.length === 0) return;
    const budget = Math.floor(this.cfg.shutdownTimeoutMs / 3);
    await Promise.race([
      Promise.allSettled(all.map((a) => this.deactivate(a, 'shutdown'))),
      new Promise((r) => setTimeout(r, budget).unref()),
    ]);
  }

  /**
   * One tenant's stale sessions (persisted live, but no process here runs them) reset to inactive, their
   * instances stopped best effort, their open reservations released. Answers how many were reset.
   */
  async recoverTenant(t: TenantId): Promise<number> {
    const stale = await this.registry.staleSessions(t);
    const token = this.leases.tokenFor(t);
    for (const row of stale) {
      if (this.active.has(row.id)) continue;
      // A new owner claims the session's file first: a paused former owner can no longer write it.
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
   * Lease mode: at start only tenants with stale sessions and no live owner are taken (their recovery
   * runs when the lease is won); the others are left to whoever owns them or first serves them.
   */
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

  /** Deactivates every live session of a tenant here (its lease is being released). */
  async deactivateTenant(tenantId: string, reason: string): Promise<void> {
    await Promise.allSettled(this.sessionsOf(tenantId).map((a) => this.deactivate(a, reason)));
  }

  /** Live sessions of a tenant here. */
  liveCount(tenantId: string): number {
    return this.sessionsOf(tenantId).length;
  }

  private sessionsOf(tenantId: string): ActiveSession[] {
    return [...this.active.values()].filter((a) => a.tenantId === tenantId);
  }

  /**
   * The tenant now belongs to another instance (lease lost): drop its live sessions here without
   * writing anything (the new owner recovers them), stop their agents best effort, discard queued writes
   * and close their databases.
   */
  async abandonTenant(tenantId: string): Promise<number> {
    const mine = this.sessionsOf(tenantId);
    for (const active of mine) {
      this.active.delete(active.sessionId);
      if (active.turn?.stallTimer) clearTimeout(active.turn.stallTimer);
      if (active.turn?.stopTimer) clearTimeout(active.turn.stopTimer);
      const connection = active.podium;
      active.podium = undefined;
      await connection?.close().catch(() => undefined);
      if (active.instanceId) void this.podium.stopInstance(active.instanceId).catch(() => undefined);
      this.store.writer.discard(active.sessionId);
      await this.store.close(active.sessionId);
    }
    return mine.length;
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

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
