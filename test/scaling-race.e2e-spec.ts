import { createHash, createHmac } from 'node:crypto';
import Redis from 'ioredis';
import { DiminuendoClient } from '@app/client';
import {
  runGatewayExpectingExit,
  startGateway,
  tempDataDir,
  type GatewayProcess,
} from './support/gateway-process';
import { JwksServer } from './support/jwks-server';
import { SIM_KEY, startPodiumSim, type SimProcess } from './support/podium-sim';
import { deleteRedisKeys, TEST_CLUSTER_SECRET, TEST_REDIS_URL, uniqueName } from './support/services';

const ROUNDS = 20;
const ROLES_CLAIM = 'https://diminuendo.dev/roles';

/** The bus member name a gateway logged at start. */
function memberOf(gw: GatewayProcess): string {
  const line = gw.output.find((l) => l.includes('cluster member '));
  const m = line && /cluster member (\S+)/.exec(line);
  if (!m) throw new Error(`no cluster member line in:\n${gw.output.join('\n')}`);
  return m[1];
}

/** One counter of a gateway's /metrics. */
async function metric(gw: GatewayProcess, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : NaN;
}

async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Two instances on one DATA_DIR and one Redis (docs/scaling.md, Model 2), production auth: the first
 * two clients of a brand-new tenant authenticate on both instances at the same moment. The instance that
 * loses the lease race forwards to the winner once the winner serves; nobody is closed, and only the
 * lease holder creates and migrates the tenant's registry.
 */
describe('lease mode: the first clients of a tenant arrive on two instances at once', () => {
  let jwks: JwksServer;
  let sim: SimProcess;
  let redis: Redis;
  const prefix = uniqueName('e2e_race');
  const gws: GatewayProcess[] = [];
  const clients: DiminuendoClient[] = [];

  beforeAll(async () => {
    jwks = await new JwksServer().start();
    sim = await startPodiumSim();
    redis = new Redis(TEST_REDIS_URL);
    const dataDir = tempDataDir('dim-race-');
    for (const name of ['gw-p', 'gw-q']) {
      gws.push(
        await startGateway({
          NODE_ENV: 'production',
          AUTH_URL: jwks.url,
          AUTH_AUDIENCE: 'diminuendo-api',
          PODIUM_URL: sim.url,
          PODIUM_API_KEY: SIM_KEY,
          REDIS_URL: TEST_REDIS_URL,
          REDIS_KEY_PREFIX: prefix,
          AUTH_ROLES_CLAIM: ROLES_CLAIM,
          CLUSTER_SECRET: TEST_CLUSTER_SECRET,
          LEASE_TTL_MS: '2000',
          DATA_DIR: dataDir,
          INSTANCE_ID: name,
        }),
      );
    }
  });
  afterAll(async () => {
    for (const c of clients) c.socket.terminate();
    await Promise.all(gws.map((g) => g.stop('SIGKILL')));
    await sim?.stop();
    await jwks?.stop();
    await deleteRedisKeys(prefix, redis);
    await redis.quit();
  });

  it(`serves both clients and migrates the registry once, in ${ROUNDS} rounds of simultaneous first connects`, async () => {
    const [p, q] = gws;
    for (let round = 0; round < ROUNDS; round++) {
      const tenant = uniqueName('race');
      const token = jwks.sign({ sub: `user-${round}`, tenant_id: tenant });
      // Both sockets are open first, then both authentications are fired in the same tick.
      const [onP, onQ] = await Promise.all(
        [p, q].map((gw) => DiminuendoClient.connect(gw.url, { authenticate: false })),
      );
      clients.push(onP, onQ);
      const closes: { code: number; reason: string }[] = [];
      for (const c of [onP, onQ]) void c.closed.then((e) => closes.push(e));
      const auths = await Promise.allSettled(
        [onP, onQ].map((c) => c.request<any>({ type: 'authenticate', token })),
      );
      expect(auths.map((a) => a.status)).toEqual(['fulfilled', 'fulfilled']);

      // Both are served: a write on one is seen by the other, whichever instance owns the tenant.
      const created = await onQ.request<any>({
        type: 'create_session',
        agentType: 'echo',
        name: `r${round}`,
      });
      const lists = await Promise.all([onP, onQ].map((c) => c.request<any>({ type: 'list_sessions' })));
      for (const l of lists) expect(l.sessions.map((s: any) => s.id)).toEqual([created.session.id]);
      expect(closes).toEqual([]);

      const holder = await redis.get(`${prefix}:lease:tenant:${tenant}`);
      expect(holder).toMatch(/^gw-[pq]\./);
      for (const c of [onP, onQ]) await c.close();
    }
    // Neither instance ever failed to create a registry or to route a client.
    for (const gw of gws) {
      const text = gw.output.join('\n');
      expect(text).not.toMatch(
        /already exists|cannot reach the instance that owns the tenant|not served here/,
      );
    }
  });

  it('drops bus messages that are unsigned, badly signed or replayed, counts them, and clients see nothing of them', async () => {
    const [p, q] = gws;
    const tenant = uniqueName('forge');
    const token = jwks.sign({ sub: 'mallory-target', tenant_id: tenant });
    const owned = await DiminuendoClient.connect(p.url, { token });
    clients.push(owned);
    const channel = `${prefix}:inst:${memberOf(p)}`;
    // Watch the owner's inbox as anyone with access to Redis could.
    const spy = new Redis(TEST_REDIS_URL);
    const seen: string[] = [];
    await spy.subscribe(channel);
    spy.on('message', (_c: string, m: string) => void seen.push(m));
    const forwarded = await DiminuendoClient.connect(q.url, { token });
    clients.push(forwarded);
    const created = await forwarded.request<any>({ type: 'create_session', agentType: 'echo', name: 'real' });
    // Every message on the wire is `<mac>.<seq>.<header line>\n<body>`.
    const createMsg = seen.find((m) => m.includes('"create_session"'));
    expect(createMsg).toMatch(/^[A-Za-z0-9_-]{43}\.\d+\.\{"k":"msg"/);
    const header = JSON.parse(createMsg!.slice(createMsg!.indexOf('{'), createMsg!.indexOf('\n')));
    const forged = (name: string) =>
      `${JSON.stringify(header)}\n${JSON.stringify({ type: 'create_session', agentType: 'echo', name })}`;
    const before = await Promise.all(
      ['unsigned', 'bad_signature', 'replayed'].map((r) =>
        metric(p, 'diminuendo_cluster_bus_rejected_total', `reason="${r}"`),
      ),
    );

    const publisher = new Redis(TEST_REDIS_URL);
    await publisher.publish(channel, forged('unsigned, as before signing'));
    await publisher.publish(channel, `-.99999999.${forged('no mac')}`);
    await publisher.publish(channel, `${'A'.repeat(43)}.99999999.${forged('wrong mac')}`);
    await publisher.publish(channel, createMsg!); // a captured message, published again
    await publisher.quit();
    await spy.quit();

    await eventually(async () => {
      const after = await Promise.all(
        ['unsigned', 'bad_signature', 'replayed'].map((r) =>
          metric(p, 'diminuendo_cluster_bus_rejected_total', `reason="${r}"`),
        ),
      );
      return after[0] === before[0] + 2 && after[1] === before[1] + 1 && after[2] === before[2] + 1;
    }, 'the rejected counters');
    expect(p.output.some((l) => l.includes('cluster bus: dropped') && !l.includes('create_session'))).toBe(
      true,
    );
    // Nothing was created by them; both clients are still served.
    for (const c of [owned, forwarded]) {
      const list = await c.request<any>({ type: 'list_sessions' });
      expect(list.sessions.map((s: any) => s.id)).toEqual([created.session.id]);
    }
    expect(owned.log.filter((e: any) => e.type === 'session_created')).toHaveLength(1);
  });

  it('admin requests sent on to the owner carry a signed marker; a forged or stale one is refused', async () => {
    const [p, q] = gws;
    const tenant = uniqueName('proxy');
    const owner = jwks.sign({ sub: 'olivia', tenant_id: tenant, [ROLES_CLAIM]: ['owner'] });
    const onP = await DiminuendoClient.connect(p.url, { token: owner });
    clients.push(onP);
    const call = (gw: GatewayProcess, method: string, path: string, body?: unknown, headers = {}) =>
      fetch(`${gw.url}/api/v1/${path}`, {
        method,
        headers: {
          authorization: `Bearer ${owner}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    // Through the non-owner: signed, verified and served by the owner (a body is covered too).
    const added = await call(q, 'POST', 'members', { userId: 'via-q', role: 'viewer' });
    expect(added.status).toBe(201);
    expect(added.headers.get('x-diminuendo-served-by')).toBe(memberOf(p));

    // Straight to the owner with a marker: refused unless signed with CLUSTER_SECRET, fresh, for this request.
    const sign = (method: string, url: string, member: string, at: string, body: string, secret: string) =>
      createHmac('sha256', secret)
        .update([method, url, member, at, createHash('sha256').update(body).digest('hex')].join('\n'))
        .digest('base64url');
    const member = memberOf(q);
    const now = String(Date.now());
    const marker = (at: string, signature?: string) => ({
      'x-diminuendo-forwarded-by': member,
      'x-diminuendo-forwarded-at': at,
      ...(signature ? { 'x-diminuendo-signature': signature } : {}),
    });
    const body = { userId: 'forged', role: 'owner' };
    const text = JSON.stringify(body);
    const refused = [
      await call(p, 'POST', 'members', body, { 'x-diminuendo-forwarded-by': member }),
      await call(p, 'POST', 'members', body, marker(now)),
      await call(
        p,
        'POST',
        'members',
        body,
        marker(now, sign('POST', '/api/v1/members', member, now, text, 'x'.repeat(40))),
      ),
      await call(
        p,
        'POST',
        'members',
        body,
        marker(now, sign('POST', '/api/v1/members', member, now, '{}', TEST_CLUSTER_SECRET)),
      ),
      await call(
        p,
        'POST',
        'members',
        body,
        marker('1000', sign('POST', '/api/v1/members', member, '1000', text, TEST_CLUSTER_SECRET)),
      ),
    ];
    for (const r of refused) {
      expect(r.status).toBe(403);
      expect(((await r.json()) as any).code).toBe('FORBIDDEN');
    }
    const members = (await (await call(p, 'GET', 'members')).json()) as any;
    expect(members.members.map((m: any) => m.userId)).not.toContain('forged');
    // The same request, correctly signed, is served: the refusals were about the signature alone.
    const signed = await call(
      p,
      'POST',
      'members',
      { userId: 'signed', role: 'viewer' },
      marker(
        now,
        sign(
          'POST',
          '/api/v1/members',
          member,
          now,
          JSON.stringify({ userId: 'signed', role: 'viewer' }),
          TEST_CLUSTER_SECRET,
        ),
      ),
    );
    expect(signed.status).toBe(201);
  });
});

describe('lease mode: CLUSTER_SECRET at start', () => {
  it('production refuses to start in lease mode without it, or with a short one, naming it', async () => {
    const base = {
      NODE_ENV: 'production',
      AUTH_URL: 'http://127.0.0.1:9',
      AUTH_AUDIENCE: 'diminuendo-api',
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: uniqueName('e2e_secret'),
    };
    const missing = await runGatewayExpectingExit(base);
    expect(missing.code).not.toBe(0);
    expect(missing.output).toContain('CLUSTER_SECRET');
    const short = await runGatewayExpectingExit({ ...base, CLUSTER_SECRET: 'too-short' });
    expect(short.code).not.toBe(0);
    expect(short.output).toContain('CLUSTER_SECRET: at least 32 characters');
  });

  it('dev mode starts without it and says that the bus is unsigned', async () => {
    const prefix = uniqueName('e2e_secret');
    const gw = await startGateway({
      NODE_ENV: 'development',
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
    });
    try {
      await eventually(() => gw.output.some((l) => l.includes('CLUSTER_SECRET is not set')), 'the warning');
    } finally {
      await gw.stop();
      await deleteRedisKeys(prefix);
    }
  });
});
