import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { WriteFence } from '@app/persistence';
import { ClusterBus } from './cluster-bus';
import type { ClusterConfig } from './cluster.config';
import { CLUSTER_CONFIG } from './cluster.tokens';

/** Where a tenant's data lives right now. */
export type TenantRoute = { self: true } | { self: false; owner: string };

interface Held {
  /** Fencing token: increases with every acquisition of the tenant, by any instance. */
  token: number;
  /** The value stored in Redis (`<member>:<token>`): renew and release only touch our own. */
  value: string;
  /** After this instant the lease may have expired in Redis: no more writes. */
  validUntil: number;
}

/**
 * SET NX the lease; on success stamp it with a new fencing token, above ARGV[3] (the newest token the
 * tenant's files have seen: a Redis that lost its keys still never hands out an older one). Answers the
 * token, or the holder.
 */
const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local token = redis.call('INCR', KEYS[2])
  if token <= tonumber(ARGV[3]) then
    token = tonumber(ARGV[3]) + 1
    redis.call('SET', KEYS[2], token)
  end
  redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
  return token
end
return redis.call('GET', KEYS[1])`;
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * Tenant ownership leases in Redis (docs/scaling.md): one instance at a time owns a tenant's registry
 * and sessions. A lease is taken with SET NX PX and a fencing token from INCR, renewed every third of
 * its TTL, released on shutdown or when idle, and taken over once it expires. This instance stops
 * writing at `validUntil` even when Redis cannot be asked, and the token fences the SQLite files (see
 * `installFence`), so a paused former owner cannot commit after losing the lease.
 */
@Injectable()
export class TenantLeases implements WriteFence, OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(TenantLeases.name);
  private readonly held = new Map<string, Held>();
  private readonly pending = new Map<string, Promise<TenantRoute>>();
  private readonly acquiredListeners: ((tenantId: string) => Promise<void>)[] = [];
  private readonly lostListeners: ((tenantId: string) => Promise<void>)[] = [];
  private sessionTenant: (sessionId: string) => string | undefined = () => undefined;
  private fenceFloor: (tenantId: string) => Promise<number> = () => Promise.resolve(0);
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** This instance's HTTP base URL, published with its presence (admin requests are sent on to it). */
  private address = '1';

  constructor(
    @Inject(CLUSTER_CONFIG) private readonly config: ClusterConfig,
    private readonly bus: ClusterBus,
  ) {}

  get enabled(): boolean {
    return this.bus.enabled;
  }

  get member(): string {
    return this.bus.member;
  }

  /** Starts the renewal loop (the bus is connected before any provider is created). */
  onModuleInit(): void {
    if (!this.enabled || this.timer) return;
    void this.renew();
    this.timer = setInterval(() => void this.renew(), this.config.renewMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Runs (awaited) right after a lease is won, before any client of the tenant is served here. */
  onAcquired(listener: (tenantId: string) => Promise<void>): void {
    this.acquiredListeners.push(listener);
  }

  /** Runs when a held lease turns out to be gone (expired, or taken by another instance). */
  onLost(listener: (tenantId: string) => Promise<void>): void {
    this.lostListeners.push(listener);
  }

  /** The newest fencing token the tenant's data has already seen (read before each acquisition). */
  useFenceFloor(fn: (tenantId: string) => Promise<number>): void {
    this.fenceFloor = fn;
  }

  /** How to find the tenant of a live session (for `maySessionWrite`). */
  resolveSessionTenant(fn: (sessionId: string) => string | undefined): void {
    this.sessionTenant = fn;
  }

  holds(tenantId: string): boolean {
    const h = this.held.get(tenantId);
    return h !== undefined && Date.now() < h.validUntil;
  }

  heldTenants(): string[] {
    return [...this.held.keys()];
  }

  tokenFor(tenantId: string): number {
    return this.holds(tenantId) ? this.held.get(tenantId)!.token : 0;
  }

  maySessionWrite(sessionId: string): boolean {
    const tenantId = this.sessionTenant(sessionId);
    return tenantId === undefined || this.holds(tenantId);
  }

  /**
   * This instance when it holds the lease or wins it now (a free or expired lease is taken, then the
   * acquired listeners run), else the live owner. An owner that stopped renewing (its process is gone)
   * is waited out until its lease expires, at most about one TTL.
   */
  resolve(tenantId: string): Promise<TenantRoute> {
    if (!this.enabled || this.holds(tenantId)) return Promise.resolve({ self: true });
    let p = this.pending.get(tenantId);
    if (!p) {
      p = this.acquire(tenantId).finally(() => this.pending.delete(tenantId));
      this.pending.set(tenantId, p);
    }
    return p;
  }

  /** Takes the lease only if it is free (no waiting); true when this instance holds it afterwards. */
  async claimIfFree(tenantId: string): Promise<boolean> {
    if (this.holds(tenantId)) return true;
    const route = await this.tryOnce(tenantId);
    return route !== null && route.self;
  }

  /** Publishes the HTTP base URL other instances send this tenant owner's admin requests to. */
  advertise(url: string): void {
    this.address = url;
    if (this.enabled && this.timer) void this.renew();
  }

  /** The advertised HTTP base URL of a live member, or null. */
  async addressOf(member: string): Promise<string | null> {
    const v = await this.bus.commands!.get(this.bus.key('member', member));
    return v && v !== '1' ? v : null;
  }

  /** True while the member's process renews its presence key. */
  async isAlive(member: string): Promise<boolean> {
    return (await this.bus.commands!.exists(this.bus.key('member', member))) === 1;
  }

  /** Members among `members` whose presence expired (their process is gone). */
  async deadAmong(members: string[]): Promise<string[]> {
    if (members.length === 0) return [];
    const pipeline = this.bus.commands!.pipeline();
    for (const m of members) pipeline.exists(this.bus.key('member', m));
    const results = (await pipeline.exec()) ?? [];
    return members.filter((_m, i) => {
      const [err, n] = results[i] ?? [null, 1];
      return !err && n === 0;
    });
  }

  /** Gives a lease back (the caller has closed the tenant's databases first). */
  async release(tenantId: string): Promise<void> {
    const h = this.held.get(tenantId);
    if (!h) return;
    this.held.delete(tenantId);
    await this.bus.commands!.eval(RELEASE, 1, this.leaseKey(tenantId), h.value).catch((err: Error) => {
      this.logger.warn(`releasing the lease of tenant ${tenantId} failed (it will expire): ${err.message}`);
    });
    this.logger.log(`released tenant ${tenantId}`);
  }

  /** Shutdown, after the databases are closed: every lease back, and this member's presence gone. */
  async releaseAll(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (!this.enabled) return;
    await Promise.all(this.heldTenants().map((t) => this.release(t)));
    await this.bus.commands!.del(this.bus.key('member', this.member)).catch(() => undefined);
  }

  private leaseKey(tenantId: string): string {
    return this.bus.key('lease', 'tenant', tenantId);
  }

  private async acquire(tenantId: string): Promise<TenantRoute> {
    const deadline = Date.now() + 2 * this.config.leaseTtlMs;
    for (;;) {
      const route = await this.tryOnce(tenantId);
      if (route) return route;
      if (Date.now() > deadline) throw new Error(`tenant ${tenantId}: its owner neither renews nor releases`);
      // The holder is gone but its lease has not expired yet: wait for the expiry.
      const ttl = await this.bus.commands!.pttl(this.leaseKey(tenantId));
      await sleep(Math.min(Math.max(ttl, 50), this.config.leaseTtlMs) + 20);
    }
  }

  /** One attempt: ours, a live owner's, or null when the holder is dead and the lease not yet expired. */
  private async tryOnce(tenantId: string): Promise<TenantRoute | null> {
    if (this.stopped) throw new Error('shutting down');
    const floor = await this.fenceFloor(tenantId);
    const started = Date.now();
    const result = (await this.bus.commands!.eval(
      ACQUIRE,
      2,
      this.leaseKey(tenantId),
      this.bus.key('lease', 'fence', tenantId),
      this.member,
      String(this.config.leaseTtlMs),
      String(floor),
    )) as number | string | null;
    if (typeof result === 'number') {
      this.held.set(tenantId, {
        token: result,
        value: `${this.member}:${result}`,
        validUntil: started + this.config.leaseTtlMs - this.config.renewMs / 2,
      });
      this.logger.log(`acquired tenant ${tenantId} (fencing token ${result})`);
      try {
        for (const l of this.acquiredListeners) await l(tenantId);
      } catch (err) {
        this.logger.error(`taking over tenant ${tenantId} failed: ${(err as Error).message}`);
        await this.release(tenantId);
        throw err;
      }
      return { self: true };
    }
    if (result === null) return this.tryOnce(tenantId); // expired between SET NX and GET
    const owner = result.slice(0, result.lastIndexOf(':'));
    if (owner === this.member) {
      // Ours in Redis but no longer in time locally: let it be renewed or expire first.
      return null;
    }
    return (await this.isAlive(owner)) ? { self: false, owner } : null;
  }

  /** One pipeline: our presence key, then every held lease; a lease that is no longer ours is lost. */
  private async renew(): Promise<void> {
    if (this.stopped) return;
    const started = Date.now();
    const tenants = this.heldTenants();
    const pipeline = this.bus.commands!.pipeline();
    pipeline.set(this.bus.key('member', this.member), this.address, 'PX', this.config.leaseTtlMs);
    for (const t of tenants) {
      pipeline.eval(RENEW, 1, this.leaseKey(t), this.held.get(t)!.value, String(this.config.leaseTtlMs));
    }
    let results: [Error | null, unknown][] = [];
    try {
      results = (await pipeline.exec()) ?? [];
    } catch (err) {
      this.logger.warn(`lease renewal failed: ${(err as Error).message}`);
    }
    tenants.forEach((t, i) => {
      const h = this.held.get(t);
      if (!h) return;
      const [err, renewed] = results[i + 1] ?? [new Error('no reply'), 0];
      if (!err && renewed === 1) h.validUntil = started + this.config.leaseTtlMs - this.config.renewMs / 2;
      else if (!err || Date.now() >= h.validUntil) void this.lose(t, err ? 'expired' : 'taken over');
    });
  }

  private async lose(tenantId: string, why: string): Promise<void> {
    if (!this.held.delete(tenantId)) return;
    this.logger.warn(`lost the lease of tenant ${tenantId} (${why}): no longer serving it`);
    for (const l of this.lostListeners) {
      await l(tenantId).catch((err: Error) =>
        this.logger.error(`handing over tenant ${tenantId} failed: ${err.message}`),
      );
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
