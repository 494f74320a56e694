import { performance } from 'node:perf_hooks';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { WriteFence } from '@app/persistence';
import { ClusterBus } from './cluster-bus';
import type { ClusterConfig } from '../config/cluster.config';
import { CLUSTER_CONFIG } from './cluster.tokens';

/** Where a tenant's data lives right now. */
export type TenantRoute = { self: true } | { self: false; owner: string };

/** recovering: won, takeover running (nobody served yet); serving; releasing: handing back. */
type HeldState = 'recovering' | 'serving' | 'releasing';

interface Held {
  /** Fencing token: increases with every acquisition of the tenant, by any instance. */
  token: number;
  /** The value stored in Redis (`<member>:<token>`): renew and release only touch our own. */
  value: string;
  /** After this instant (monotonic clock) the lease may have expired in Redis: no more session writes. */
  validUntil: number;
  state: HeldState;
  /** Session writes waiting for a late renewal: resolved with the token, or 0 when the lease is gone. */
  waiters: ((token: number) => void)[];
  /** Settles when the takeover is over (served, failed or lost). */
  takeover: Promise<void>;
}

const now = (): number => performance.now();

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

/** Drops a departed member from `members` when its presence is still gone and it owns nothing. */
const FORGET_MEMBER = `
if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('SCARD', KEYS[2]) == 0 then
  return redis.call('SREM', KEYS[3], ARGV[1])
end
return 0`;

/**
 * Tenant ownership leases in Redis (docs/scaling.md): one instance at a time owns a tenant's registry
 * and sessions. A lease is taken with SET NX PX and a fencing token from INCR, renewed every third of
 * its TTL, released on shutdown or when idle, and taken over once it expires — by the instance a client
 * reaches, or by the sweep of members whose presence expired. Session writes wait while a renewal is
 * late and are refused once the lease is gone; the token fences the SQLite files (`installFence`), so a
 * paused former owner cannot commit after losing the lease.
 */
@Injectable()
export class TenantLeases implements WriteFence, OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(TenantLeases.name);
  private readonly held = new Map<string, Held>();
  private readonly pending = new Map<string, Promise<TenantRoute>>();
  private readonly acquiredListeners: ((tenantId: string) => Promise<void>)[] = [];
  private readonly lostListeners: ((tenantId: string) => Promise<void>)[] = [];
  /** The tenant of every session activated here (session writes are fenced by their tenant's lease). */
  private readonly sessionTenants = new Map<string, string>();
  private fenceFloor: (tenantId: string) => Promise<number> = () => Promise.resolve(0);
  private timer?: NodeJS.Timeout;
  private sweeper?: NodeJS.Timeout;
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

  /**
   * Starts renewing (the bus is connected before any provider is created). Renewal runs until
   * `releaseAll()`, the last shutdown step: the drain and the final flush happen under a valid lease.
   */
  onModuleInit(): void {
    if (!this.enabled || this.timer) return;
    void this.renew();
    this.timer = setInterval(() => void this.renew(), this.config.renewMs);
    this.timer.unref();
    this.sweeper = setInterval(() => void this.sweepDeadMembers(), this.config.leaseTtlMs);
    this.sweeper.unref();
  }

  onApplicationShutdown(): void {
    this.stopTimers();
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

  /** Records the tenant of a session about to be activated here. */
  noteSession(sessionId: string, tenantId: string): void {
    this.sessionTenants.set(sessionId, tenantId);
  }

  forgetSession(sessionId: string): void {
    this.sessionTenants.delete(sessionId);
  }

  /**
   * While this instance is taking the tenant over (lease won, recovery running): settles once the
   * takeover is over, with whether the tenant is then served here. Undefined otherwise. Lets a client
   * or request forwarded by the instance that lost the lease race wait instead of being turned away.
   */
  whenServing(tenantId: string): Promise<boolean> | undefined {
    const h = this.held.get(tenantId);
    if (h?.state !== 'recovering') return undefined;
    return h.takeover.then(() => this.holds(tenantId));
  }

  /** True while this instance serves the tenant: lease won, takeover done, locally valid. */
  holds(tenantId: string): boolean {
    const h = this.held.get(tenantId);
    return h !== undefined && h.state === 'serving' && now() < h.validUntil;
  }

  heldTenants(): string[] {
    return [...this.held.keys()];
  }

  /** The token a tenant registry is opened with here (0 when not held: reads only, on a claimed file). */
  tokenFor(tenantId: string): number {
    return this.held.get(tenantId)?.token ?? 0;
  }

  /**
   * The token to write a session's database with: undefined for a session not activated here (not
   * fenced), 0 when its tenant's lease is gone (refused). While a renewal is late this waits for its
   * outcome instead of refusing a write the lease may still cover.
   */
  sessionWriteToken(sessionId: string): Promise<number | undefined> {
    const tenantId = this.sessionTenants.get(sessionId);
    if (tenantId === undefined) return Promise.resolve(undefined);
    const h = this.held.get(tenantId);
    if (!h) return Promise.resolve(0);
    if (now() < h.validUntil) return Promise.resolve(h.token);
    return new Promise((resolve) => h.waiters.push(resolve));
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

  /** The advertised HTTP base URL of a live member, or null (anything but an http(s) URL is ignored). */
  async addressOf(member: string): Promise<string | null> {
    const v = await this.bus.commands!.get(this.bus.key('member', member));
    if (!v) return null;
    try {
      const url = new URL(v);
      return url.protocol === 'http:' || url.protocol === 'https:' ? v.replace(/\/+$/, '') : null;
    } catch {
      return null;
    }
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

  /**
   * Gives a lease back. From the start the tenant is no longer served here (new clients wait for the
   * next owner), `prepare` then finishes the work under the still-valid lease (close clients, flush,
   * close databases), and only then is the lease deleted.
   */
  async release(tenantId: string, prepare?: () => Promise<void>): Promise<void> {
    const h = this.held.get(tenantId);
    if (!h) return;
    h.state = 'releasing';
    try {
      await prepare?.();
    } finally {
      if (this.held.get(tenantId) === h) this.forgetHeld(tenantId, h);
      await this.bus.commands!.eval(RELEASE, 1, this.leaseKey(tenantId), h.value).catch((err: Error) => {
        this.logger.warn(`releasing the lease of tenant ${tenantId} failed (it will expire): ${err.message}`);
      });
      if (!this.held.has(tenantId)) {
        await this.bus.commands!.srem(this.ownedKey(this.member), tenantId).catch(() => undefined);
      }
      this.logger.log(`released tenant ${tenantId}`);
    }
  }

  /** Shutdown, after the databases are closed: every lease back, and this member's presence gone. */
  async releaseAll(): Promise<void> {
    this.stopped = true;
    this.stopTimers();
    if (!this.enabled) return;
    await Promise.all(this.heldTenants().map((t) => this.release(t)));
    await this.bus.commands!.del(this.bus.key('member', this.member)).catch(() => undefined);
    await this.bus.commands!.srem(this.membersKey(), this.member).catch(() => undefined);
  }

  private stopTimers(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.sweeper) clearInterval(this.sweeper);
  }

  private leaseKey(tenantId: string): string {
    return this.bus.key('lease', 'tenant', tenantId);
  }

  private ownedKey(member: string): string {
    return this.bus.key('owned', member);
  }

  private membersKey(): string {
    return this.bus.key('members');
  }

  private forgetHeld(tenantId: string, h: Held): void {
    this.held.delete(tenantId);
    for (const w of h.waiters.splice(0)) w(0);
  }

  private async acquire(tenantId: string): Promise<TenantRoute> {
    const deadline = now() + 2 * this.config.leaseTtlMs;
    for (;;) {
      if (this.holds(tenantId)) return { self: true };
      const route = await this.tryOnce(tenantId);
      if (route) return route;
      if (now() > deadline) throw new Error(`tenant ${tenantId}: its owner neither renews nor releases`);
      // The holder is gone (or it is our own lease being renewed or released): wait a little.
      const ttl = await this.bus.commands!.pttl(this.leaseKey(tenantId));
      await sleep(Math.min(Math.max(ttl, 50), this.config.renewMs) + 20);
    }
  }

  /** One attempt: ours, a live owner's, or null when the holder is gone or it is our own lease. */
  private async tryOnce(tenantId: string): Promise<TenantRoute | null> {
    if (this.stopped) throw new Error('shutting down');
    if (this.held.has(tenantId)) return null;
    const floor = await this.fenceFloor(tenantId);
    const started = now();
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
      let done!: () => void;
      const h: Held = {
        token: result,
        value: `${this.member}:${result}`,
        validUntil: started + this.config.leaseTtlMs - this.config.renewMs / 2,
        state: 'recovering',
        waiters: [],
        takeover: new Promise<void>((r) => (done = r)),
      };
      this.held.set(tenantId, h);
      try {
        await this.bus.commands!.sadd(this.ownedKey(this.member), tenantId).catch(() => undefined);
        this.logger.log(`acquired tenant ${tenantId} (fencing token ${result})`);
        try {
          for (const l of this.acquiredListeners) await l(tenantId);
        } catch (err) {
          this.logger.error(`taking over tenant ${tenantId} failed: ${(err as Error).message}`);
          await this.release(tenantId);
          throw err;
        }
        if (this.held.get(tenantId) !== h) throw new Error(`tenant ${tenantId}: lease lost during takeover`);
        h.state = 'serving';
        return { self: true };
      } finally {
        done();
      }
    }
    if (result === null) return this.tryOnce(tenantId); // expired between SET NX and GET
    const owner = result.slice(0, result.lastIndexOf(':'));
    if (owner === this.member) return null;
    return (await this.isAlive(owner)) ? { self: false, owner } : null;
  }

  /**
   * One pipeline: our presence key, then every held lease; a lease that is no longer ours is lost. A
   * reply only counts for the lease it was sent for (a lease re-won meanwhile is left alone).
   */
  private async renew(): Promise<void> {
    if (this.stopped) return;
    const started = now();
    const sent = [...this.held.entries()].map(([t, h]) => ({ t, h }));
    const pipeline = this.bus.commands!.pipeline();
    pipeline.set(this.bus.key('member', this.member), this.address, 'PX', this.config.leaseTtlMs);
    pipeline.sadd(this.membersKey(), this.member);
    // Repairs `owned:` if a sweep removed it while this instance was frozen.
    if (sent.length > 0) pipeline.sadd(this.ownedKey(this.member), ...sent.map((x) => x.t));
    for (const { t, h } of sent) {
      pipeline.eval(RENEW, 1, this.leaseKey(t), h.value, String(this.config.leaseTtlMs));
    }
    let results: [Error | null, unknown][] = [];
    try {
      results = (await pipeline.exec()) ?? [];
    } catch (err) {
      this.logger.warn(`lease renewal failed: ${(err as Error).message}`);
    }
    sent.forEach(({ t, h }, i) => {
      if (this.held.get(t) !== h) return;
      const [err, renewed] = results[i + (sent.length > 0 ? 3 : 2)] ?? [new Error('no reply'), 0];
      if (!err && renewed === 1) {
        h.validUntil = started + this.config.leaseTtlMs - this.config.renewMs / 2;
        // A reply that came too late to extend validity leaves the waiters to the next renewal.
        if (now() < h.validUntil) for (const w of h.waiters.splice(0)) w(h.token);
      } else if (!err || now() >= h.validUntil) void this.lose(t, h, err ? 'expired' : 'taken over');
    });
  }

  private async lose(tenantId: string, h: Held, why: string): Promise<void> {
    if (this.held.get(tenantId) !== h) return;
    this.forgetHeld(tenantId, h);
    void this.bus.commands!.srem(this.ownedKey(this.member), tenantId).catch(() => undefined);
    this.logger.warn(`lost the lease of tenant ${tenantId} (${why}): no longer serving it`);
    for (const l of this.lostListeners) {
      await l(tenantId).catch((err: Error) =>
        this.logger.error(`handing over tenant ${tenantId} failed: ${err.message}`),
      );
    }
  }

  /**
   * Members whose presence expired (killed, or frozen) still own tenants in Redis: take each over once
   * its lease expires, so stale sessions are recovered and reservations released even when no client
   * of the tenant comes back. Several survivors may race; one wins each tenant.
   */
  private async sweepDeadMembers(): Promise<void> {
    if (this.stopped) return;
    try {
      const members = (await this.bus.commands!.smembers(this.membersKey())).filter((m) => m !== this.member);
      for (const dead of await this.deadAmong(members)) {
        for (const t of await this.bus.commands!.smembers(this.ownedKey(dead))) {
          if (this.stopped) return;
          const route = await this.resolve(t).catch((err: Error) => {
            this.logger.warn(
              `takeover of tenant ${t} from ${dead} failed (retried next sweep): ${err.message}`,
            );
            return null;
          });
          if (!route) continue;
          if (route.self) this.logger.log(`took over tenant ${t} from ${dead}, whose process is gone`);
          // Whoever holds it now, it is no longer the departed member's.
          await this.bus.commands!.srem(this.ownedKey(dead), t);
        }
        // Forget the member only if it is still gone and owns nothing (it may have resumed meanwhile).
        await this.bus.commands!.eval(
          FORGET_MEMBER,
          3,
          this.bus.key('member', dead),
          this.ownedKey(dead),
          this.membersKey(),
          dead,
        );
      }
    } catch (err) {
      this.logger.warn(`sweep of departed instances failed: ${(err as Error).message}`);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
