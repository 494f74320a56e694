import Redis from 'ioredis';
import { ClusterBus } from './cluster-bus';
import type { ClusterConfig } from '../config/cluster.config';
import { TenantLeases } from './tenant-leases';

const REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';
const TTL = 1000;

/** Real Redis; each "instance" is a ClusterBus + TenantLeases pair, as in one gateway process. */
describe('TenantLeases (real Redis)', () => {
  const prefix = `unit_leases_${process.pid}_${Date.now()}`;
  const made: { bus: ClusterBus; leases: TenantLeases }[] = [];
  let redis: Redis;

  const config = (instanceId: string): ClusterConfig => ({
    leases: true,
    ownership: 'lease',
    redisUrl: REDIS_URL,
    keyPrefix: prefix,
    instanceId,
    leaseTtlMs: TTL,
    renewMs: Math.floor(TTL / 3),
    idleReleaseMs: 0,
    advertiseUrl: '',
    secret: 'unit-test-cluster-secret-0123456789abcdef',
  });
  async function instance(name: string, renew = true, secret?: string) {
    const cfg = { ...config(name), ...(secret !== undefined ? { secret } : {}) };
    const bus = new ClusterBus(cfg);
    await bus.connect();
    const leases = new TenantLeases(cfg, bus);
    if (renew) leases.onModuleInit();
    made.push({ bus, leases });
    return { bus, leases };
  }

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    for (const m of made) {
      m.leases.onApplicationShutdown();
      await m.bus.onApplicationShutdown();
    }
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('one instance wins a free lease; the other is told who owns it', async () => {
    const a = await instance('a');
    const b = await instance('b');
    const acquired: string[] = [];
    a.leases.onAcquired(async (t) => void acquired.push(t));
    expect(await a.leases.resolve('t1')).toEqual({ self: true });
    expect(await b.leases.resolve('t1')).toEqual({ self: false, owner: a.bus.member });
    expect(acquired).toEqual(['t1']);
    expect(a.leases.tokenFor('t1')).toBeGreaterThan(0);
    expect(b.leases.tokenFor('t1')).toBe(0);
    // Renewal keeps it beyond the TTL.
    await new Promise((r) => setTimeout(r, TTL * 1.6));
    expect(a.leases.holds('t1')).toBe(true);
    expect(await b.leases.resolve('t1')).toEqual({ self: false, owner: a.bus.member });
  });

  it('concurrent resolves on several instances elect exactly one owner', async () => {
    const all = await Promise.all(['c1', 'c2', 'c3'].map((n) => instance(n)));
    const routes = await Promise.all(all.map((i) => i.leases.resolve('t2')));
    const owners = routes.filter((r) => r.self);
    expect(owners).toHaveLength(1);
    const winner = all[routes.findIndex((r) => r.self)].bus.member;
    for (const r of routes) if (!r.self) expect(r.owner).toBe(winner);
  });

  it('a paused owner loses the lease after the TTL; the taker gets a newer fencing token', async () => {
    const paused = await instance('paused', false); // never renews: a stopped process
    const taker = await instance('taker');
    const lost: string[] = [];
    paused.leases.onLost(async (t) => void lost.push(t));
    await redis.set(`${prefix}:member:${paused.bus.member}`, '1', 'PX', TTL); // its presence, not renewed
    expect(await paused.leases.resolve('t3')).toEqual({ self: true });
    const oldToken = paused.leases.tokenFor('t3');
    // While its presence key lives it still counts as the owner…
    expect(await taker.leases.resolve('t3')).toEqual({ self: false, owner: paused.bus.member });
    // …once that expired, the lease is waited out and taken.
    await new Promise((r) => setTimeout(r, TTL + 50));
    expect(await taker.leases.resolve('t3')).toEqual({ self: true });
    expect(taker.leases.tokenFor('t3')).toBeGreaterThan(oldToken);
    // Locally the paused owner no longer serves the tenant, and a session write waits for the verdict…
    expect(paused.leases.holds('t3')).toBe(false);
    paused.leases.noteSession('s3', 't3');
    let verdict: number | undefined = -1;
    const write = paused.leases.sessionWriteToken('s3').then((t) => (verdict = t));
    await new Promise((r) => setTimeout(r, 50));
    expect(verdict).toBe(-1);
    // …which comes when it runs again: its renewal finds the lease taken, and the write is refused.
    paused.leases.onModuleInit();
    await write;
    expect(verdict).toBe(0);
    expect(paused.leases.tokenFor('t3')).toBe(0);
    expect(lost).toEqual(['t3']);
  });

  it('release hands the lease over at once; a release by a non-holder changes nothing', async () => {
    const a = await instance('r-a');
    const b = await instance('r-b');
    await a.leases.resolve('t4');
    await b.leases.release('t4');
    expect(await b.leases.resolve('t4')).toEqual({ self: false, owner: a.bus.member });
    await a.leases.release('t4');
    expect(await b.leases.resolve('t4')).toEqual({ self: true });
  });

  it('stamps a new lease above the token the files have seen, even after Redis lost its counters', async () => {
    const a = await instance('floor');
    a.leases.useFenceFloor(async () => 41);
    await redis.del(`${prefix}:lease:fence:t5`);
    await a.leases.resolve('t5');
    expect(a.leases.tokenFor('t5')).toBe(42);
    await a.leases.release('t5');
    a.leases.useFenceFloor(async () => 0);
    await a.leases.resolve('t5');
    expect(a.leases.tokenFor('t5')).toBe(43);
  });

  it('answers which members are gone', async () => {
    const a = await instance('alive');
    await new Promise((r) => setTimeout(r, 50));
    expect(await a.leases.deadAmong([a.bus.member, 'nobody.000000'])).toEqual(['nobody.000000']);
  });

  it('while a takeover runs, whenServing waits for it and then tells whether the tenant is served', async () => {
    const a = await instance('w-a');
    let finish!: () => void;
    a.leases.onAcquired(() => new Promise<void>((r) => (finish = r)));
    expect(a.leases.whenServing('t6')).toBeUndefined();
    const resolving = a.leases.resolve('t6');
    await new Promise((r) => setTimeout(r, 100));
    // The lease is won, the takeover still runs: not served yet, but whenServing waits for it.
    expect(a.leases.holds('t6')).toBe(false);
    const serving = a.leases.whenServing('t6');
    expect(serving).toBeDefined();
    let answer: boolean | undefined;
    void serving!.then((v) => (answer = v));
    await new Promise((r) => setTimeout(r, 50));
    expect(answer).toBeUndefined();
    finish();
    expect(await resolving).toEqual({ self: true });
    expect(await serving).toBe(true);
    expect(a.leases.whenServing('t6')).toBeUndefined();
  });

  it('the bus delivers signed messages and drops unsigned, badly signed and replayed ones, counting them', async () => {
    const owner = await instance('s-owner', false);
    const sender = await instance('s-sender', false);
    const stranger = await instance('s-stranger', false, 'another-secret-of-32-characters-at-least');
    const got: string[] = [];
    owner.bus.on('msg', (h, body) => void got.push(`${h.from}:${body}`));
    const spy = new Redis(REDIS_URL);
    const seen: string[] = [];
    await spy.subscribe(owner.bus.inbox(owner.bus.member));
    spy.on('message', (_c: string, m: string) => void seen.push(m));

    sender.bus.send(owner.bus.member, { k: 'msg', from: sender.bus.member, c: 'c1' }, '{"n":1}');
    stranger.bus.send(owner.bus.member, { k: 'msg', from: stranger.bus.member, c: 'c2' }, '{"n":2}');
    const channel = owner.bus.inbox(owner.bus.member);
    await redis.publish(channel, `{"k":"msg","from":"${sender.bus.member}","c":"c1"}\n{"n":3}`);
    await new Promise((r) => setTimeout(r, 200));
    // A captured, well-signed message published again is a replay.
    await redis.publish(channel, seen[0]);
    sender.bus.send(owner.bus.member, { k: 'msg', from: sender.bus.member, c: 'c1' }, '{"n":4}');
    await new Promise((r) => setTimeout(r, 200));
    await spy.quit();

    expect(got).toEqual([`${sender.bus.member}:{"n":1}`, `${sender.bus.member}:{"n":4}`]);
    expect(owner.bus.rejected).toEqual({ unsigned: 1, bad_signature: 1, replayed: 1, malformed: 0 });
  });
});
