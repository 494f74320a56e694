import Redis from 'ioredis';
import { DiminuendoClient } from '@app/client';
import type { SessionEvent } from '@app/protocol';
import {
  runGatewayExpectingExit,
  startGateway,
  tempDataDir,
  type GatewayProcess,
} from './support/gateway-process';
import { JwksServer } from './support/jwks-server';
import { SIM_KEY, startPodiumSim, type SimProcess } from './support/podium-sim';
import { deleteRedisKeys, TEST_CLUSTER_SECRET, TEST_REDIS_URL, uniqueName } from './support/services';

type Ev = SessionEvent & { requestId?: string };

const LEASE_TTL_MS = 1500;

function sessionEvents(c: DiminuendoClient, sessionId: string, afterSeq = 0): Ev[] {
  return c.log
    .filter((e: any) => e.sessionId === sessionId && typeof e.seq === 'number' && e.seq > afterSeq)
    .map((e: any) => {
      const { requestId: _r, ...rest } = e;
      return rest as Ev;
    });
}

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition') {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Every stored event of a session, page by page through `get_events`. */
async function storedEvents(c: DiminuendoClient, sessionId: string): Promise<any[]> {
  const stored: any[] = [];
  let afterSeq = 0;
  for (;;) {
    const page = await c.request<any>({ type: 'get_events', sessionId, afterSeq, limit: 500 });
    stored.push(...page.events);
    if (!page.hasMore) return stored;
    afterSeq = page.events[page.events.length - 1].seq;
  }
}

/** A gateway in lease mode on the test Redis, talking to the simulator (dev auth unless `extra` says). */
function leaseEnv(sim: SimProcess, prefix: string, extra: Record<string, string>): Record<string, string> {
  return {
    NODE_ENV: 'development',
    PODIUM_URL: sim.url,
    PODIUM_API_KEY: SIM_KEY,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    LEASE_TTL_MS: String(LEASE_TTL_MS),
    CLUSTER_SECRET: TEST_CLUSTER_SECRET,
    ...extra,
  };
}

/** The bus member name a gateway logged at start. */
function memberOf(gw: GatewayProcess): string {
  const line = gw.output.find((l) => l.includes('cluster member '));
  const m = line && /cluster member (\S+)/.exec(line);
  if (!m) throw new Error(`no cluster member line in:\n${gw.output.join('\n')}`);
  return m[1];
}

/**
 * Several gateway processes on one shared DATA_DIR and one Redis (docs/scaling.md, "Tenant ownership"):
 * one instance owns a tenant through a lease; clients on the others are forwarded to it and see the
 * same stream; the owner's death hands the tenant over without reusing a seq.
 */
describe('tenant ownership: gateways sharing DATA_DIR through Redis leases', () => {
  let sim: SimProcess;
  let dataDir: string;
  let redis: Redis;
  const prefix = uniqueName('e2e_cluster');
  const gws: GatewayProcess[] = [];
  const clients: DiminuendoClient[] = [];
  const start = async (name: string) => {
    const gw = await startGateway(
      leaseEnv(sim, prefix, {
        DATA_DIR: dataDir,
        DB_WRITE_BATCH_MS: '20',
        HEARTBEAT_INTERVAL_MS: '60000',
        INSTANCE_ID: name,
      }),
    );
    gws.push(gw);
    return gw;
  };
  const connect = async (gw: GatewayProcess) => {
    const c = await DiminuendoClient.connect(gw.url);
    clients.push(c);
    return c;
  };
  const leaseHolder = async (tenant = 'dev') => {
    const v = await redis.get(`${prefix}:lease:tenant:${tenant}`);
    return v === null ? null : v.slice(0, v.lastIndexOf(':'));
  };

  beforeAll(async () => {
    sim = await startPodiumSim();
    dataDir = tempDataDir('dim-cluster-');
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    for (const c of clients) c.socket.terminate();
    await Promise.all(gws.map((g) => g.stop('SIGKILL')));
    await sim?.stop();
    await deleteRedisKeys(prefix, redis);
    await redis.quit();
  });

  let a: GatewayProcess;
  let b: GatewayProcess;
  let sessionId: string;

  it('one instance takes the lease; a client on the other is forwarded to it', async () => {
    a = await start('gw-a');
    b = await start('gw-b');
    expect(await leaseHolder()).toBeNull();
    const onA = await connect(a);
    expect(await leaseHolder()).toBe(memberOf(a));
    const onB = await connect(b);
    expect(onB.identity?.tenantId).toBe('dev');
    await eventually(() => b.output.some((l) => l.includes('forwarding to the owning instance')), 5000);
    expect(await leaseHolder()).toBe(memberOf(a));
    // Messages answered by the owner reach the client on B, with their requestId.
    const listA = await onA.request<any>({ type: 'list_sessions' });
    const listB = await onB.request<any>({ type: 'list_sessions' });
    expect(listB).toEqual({ ...listA, requestId: listB.requestId });
    // `ping` is answered where the client is connected.
    expect((await onB.request<any>({ type: 'ping', clientTs: 1 })).type).toBe('pong');
  });

  it('keeps session lists and tenant events consistent whichever instance a client reaches', async () => {
    const onA = await connect(a);
    const onB = await connect(b);
    const created = await onB.request<any>({
      type: 'create_session',
      agentType: 'coding-agent',
      name: 'from B',
    });
    sessionId = created.session.id;
    const seenOnA = await onA.waitFor('session_created', 5000, true, (e: any) => e.session.id === sessionId);
    expect(seenOnA.session).toEqual(created.session);
    await onB.request({ type: 'rename_session', sessionId, name: 'renamed on B' });
    await onA.waitFor(
      'session_renamed',
      5000,
      true,
      (e: any) => e.sessionId === sessionId && e.name === 'renamed on B',
    );
    const [la, lb] = await Promise.all([
      onA.request<any>({ type: 'list_sessions' }),
      onB.request<any>({ type: 'list_sessions' }),
    ]);
    expect(lb.sessions).toEqual(la.sessions);
    expect(la.sessions.map((s: any) => s.id)).toContain(sessionId);
    // Errors from the owner come back as protocol errors with the requestId.
    await expect(onB.request({ type: 'join_session', sessionId: 'no-such-session' })).rejects.toMatchObject({
      code: 'SESSION_NOT_FOUND',
    });
  });

  it('a client on B runs a turn on a session owned by A: both clients see the same events, order and seq', async () => {
    const onA = await connect(a);
    const onB = await connect(b);
    const snapA = await onA.request<any>({ type: 'join_session', sessionId });
    const snapB = await onB.request<any>({ type: 'join_session', sessionId });
    expect(snapB.session.id).toBe(sessionId);
    const after = Math.max(snapA.lastSeq, snapB.lastSeq);
    const started = await onB.request<any>({ type: 'run_turn', sessionId, text: 'write hello' });
    expect(started.type).toBe('turn_started');
    const done = await onB.waitFor('turn_complete', 20_000, true, (e: any) => e.turnId === started.turnId);
    await onA.waitFor('turn_complete', 5000, true, (e: any) => e.turnId === started.turnId);
    await onA.waitFor('session_state', 5000, true, (e: any) => e.state === 'ready' && e.seq > done.seq);
    await onB.waitFor('session_state', 5000, true, (e: any) => e.state === 'ready' && e.seq > done.seq);

    const evA = sessionEvents(onA, sessionId, after);
    const evB = sessionEvents(onB, sessionId, after);
    expect(evB.length).toBeGreaterThan(10);
    expect(evB).toEqual(evA);
    for (let i = 1; i < evB.length; i++) expect(evB[i].seq).toBeGreaterThan(evB[i - 1].seq);
    expect(evB.map((e) => e.type)).toEqual(
      expect.arrayContaining(['text_delta', 'tool_call', 'usage_update']),
    );

    // Replay through B is byte-identical to replay on A.
    const pageA = await onA.request<any>({ type: 'get_events', sessionId, afterSeq: 0, limit: 500 });
    const pageB = await onB.request<any>({ type: 'get_events', sessionId, afterSeq: 0, limit: 500 });
    expect(pageB.events).toEqual(pageA.events);
    // Only the owner runs the agent.
    const figures = async (gw: GatewayProcess) => (await (await fetch(`${gw.url}/health`)).json()) as any;
    expect((await figures(a)).activeSessions).toBe(1);
    expect((await figures(b)).activeSessions).toBe(0);
    const [fa, fb] = [(await figures(a)).cluster, (await figures(b)).cluster];
    expect(fa).toMatchObject({ member: memberOf(a), ownedTenants: 1, forwardedClients: 0 });
    expect(fb).toMatchObject({ member: memberOf(b), ownedTenants: 0, hostedClients: 0 });
    expect(fb.forwardedClients).toBeGreaterThanOrEqual(2);
    expect(fa.hostedClients).toBe(fb.forwardedClients);
    const metric = async (gw: GatewayProcess, name: string) => {
      const text = await (await fetch(`${gw.url}/metrics`)).text();
      return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    };
    expect(await metric(a, 'diminuendo_tenants_owned')).toBe(1);
    expect(await metric(b, 'diminuendo_tenants_owned')).toBe(0);
    expect(await metric(b, 'diminuendo_forwarded_clients')).toBe(fb.forwardedClients);
    expect(await metric(a, 'diminuendo_hosted_clients')).toBe(fa.hostedClients);
  });

  it('bad input from a forwarded client gets the protocol error and the connection survives', async () => {
    const onB = await connect(b);
    onB.sendRaw('{not json');
    expect((await onB.waitFor('error', 5000)).code).toBe('INVALID_JSON');
    await expect(onB.request({ type: 'run_turn', sessionId } as any)).rejects.toMatchObject({
      code: 'INVALID_MESSAGE',
    });
    expect((await onB.request<any>({ type: 'list_sessions' })).type).toBe('session_list');
  });

  it('the admin API answers on every instance: requests for a tenant owned elsewhere are served by the owner', async () => {
    const post = (gw: GatewayProcess, path: string, body: unknown) =>
      fetch(`${gw.url}/api/v1/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const added = await post(b, 'members', { userId: 'added-via-b', role: 'viewer' });
    expect(added.status).toBe(201);
    expect(added.headers.get('x-diminuendo-served-by')).toBe(memberOf(a));
    expect(((await added.json()) as any).member).toMatchObject({ userId: 'added-via-b', role: 'viewer' });
    const members = (await (await fetch(`${a.url}/api/v1/members`)).json()) as any;
    expect(members.members.map((m: any) => m.userId)).toContain('added-via-b');

    const created = await post(b, 'api-keys', { role: 'member', label: 'via b' });
    expect(created.status).toBe(201);
    const key = (await created.json()) as any;
    const revoked = await fetch(`${b.url}/api/v1/api-keys/${key.id}`, { method: 'DELETE' });
    expect(revoked.status).toBe(204);
    const onA = (await (await fetch(`${a.url}/api/v1/api-keys`)).json()) as any;
    expect(onA.keys.find((k: any) => k.id === key.id).revokedAt).toEqual(expect.any(Number));
    // Validation errors come back from the owner unchanged.
    const bad = await post(b, 'members', { userId: '', role: 'emperor' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).code).toBe('VALIDATION_FAILED');
    // On the owner itself nothing is sent on.
    const local = await fetch(`${a.url}/api/v1/me`);
    expect(local.headers.get('x-diminuendo-served-by')).toBeNull();
  });

  it('a lost link to Redis resets forwarded clients (1012); reconnected, they continue with nothing missing', async () => {
    const onB = await connect(b);
    const snap = await onB.request<any>({ type: 'join_session', sessionId });
    // Kill B's inbox subscription, as Redis does to a subscriber over its output buffer limit.
    const list = (await redis.client('LIST')) as string;
    const line = list.split('\n').find((l) => l.includes(`name=${prefix}:${memberOf(b)}:sub`));
    const id = line && /\bid=(\d+)/.exec(line)?.[1];
    expect(id).toBeDefined();
    await redis.client('KILL', 'ID', id!);
    expect((await onB.closed).code).toBe(1012);
    await eventually(() => b.output.some((l) => l.includes('cluster bus reconnected')), 5000, 'reset log');
    // The client reconnects to B, is forwarded again and replays from where it was.
    const again = await connect(b);
    const replay = await again.request<any>({ type: 'join_session', sessionId, afterSeq: 0 });
    expect(replay.lastSeq).toBeGreaterThanOrEqual(snap.lastSeq);
    const page = await again.request<any>({ type: 'get_events', sessionId, afterSeq: 0, limit: 1000 });
    const seqs = page.events.map((e: any) => e.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs[seqs.length - 1]).toBe(replay.lastSeq);
    expect((await again.request<any>({ type: 'list_sessions' })).type).toBe('session_list');
  });

  let maxSeqSeen = 0;
  let c: GatewayProcess;

  it('SIGKILL of the owner: another instance takes the lease after expiry, recovers, and seq is never reused', async () => {
    c = await start('gw-c');
    const onA = await connect(a);
    const onC = await connect(c);
    await onA.request({ type: 'join_session', sessionId });
    await onC.request({ type: 'join_session', sessionId });
    // A long, paced turn is running on A when A dies.
    const started = await onC.request<any>({ type: 'run_turn', sessionId, text: 'pace:200:20:8' });
    await onC.waitFor('text_delta', 10_000, true, (e: any) => e.turnId === started.turnId);
    maxSeqSeen = Math.max(...sessionEvents(onC, sessionId).map((e) => e.seq));
    const owner = memberOf(a);
    expect(await leaseHolder()).toBe(owner);

    await a.stop('SIGKILL');
    const closed = await onC.closed;
    expect(closed.code).toBe(1012);
    maxSeqSeen = Math.max(maxSeqSeen, ...sessionEvents(onC, sessionId).map((e) => e.seq));

    // The client reconnects (to C here) and is served once C holds the lease.
    const again = await connect(c);
    const holder = await leaseHolder();
    expect([memberOf(c), memberOf(b)]).toContain(holder);
    expect(holder).not.toBe(owner);
    const list = await again.request<any>({ type: 'list_sessions' });
    const row = list.sessions.find((s: any) => s.id === sessionId);
    expect(row.status).toBe('inactive');

    const snap = await again.request<any>({ type: 'join_session', sessionId, afterSeq: maxSeqSeen });
    expect(snap.lastSeq).toBeGreaterThanOrEqual(maxSeqSeen);
    const next = await again.request<any>({ type: 'run_turn', sessionId, text: 'write again' });
    const done = await again.waitFor('turn_complete', 20_000, true, (e: any) => e.turnId === next.turnId);
    expect(next.seq).toBeGreaterThan(maxSeqSeen);
    expect(done.seq).toBeGreaterThan(next.seq);

    // The stored stream has unique, increasing seq across both owners.
    const stored = await storedEvents(again, sessionId);
    const seqs = stored.map((e) => e.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]);
    expect(seqs).toContain(next.seq);
  });

  it('SIGTERM of the owner releases its leases at once, after its databases are closed', async () => {
    const holderMember = await leaseHolder();
    const owner = [b, c].find((g) => memberOf(g) === holderMember)!;
    const other = owner === b ? c : b;
    const onOther = await connect(other);
    await onOther.request({ type: 'list_sessions' });
    expect(await owner.stop('SIGTERM')).toBe(0);
    // Released, not left to expire: free, or already taken by the survivor; the owner deleted it itself.
    expect([null, memberOf(other)]).toContain(await leaseHolder());
    expect(owner.output.join('\n')).toContain('released tenant dev');
    expect(owner.output.join('\n')).toContain('shutdown: release tenant leases done');
    // Its forwarded client was told, and the next connection is served by the survivor.
    // 1001 after server_shutdown; 1012 if its instance noticed the owner gone first: both say reconnect.
    expect([1001, 1012]).toContain((await onOther.closed).code);
    const fresh = await connect(other);
    expect((await fresh.request<any>({ type: 'list_sessions' })).sessions.map((s: any) => s.id)).toContain(
      sessionId,
    );
    expect(await leaseHolder()).toBe(memberOf(other));
  });
});

/**
 * A former owner that was paused past its lease (SIGSTOP: a long GC pause, a frozen VM) must not write
 * once another instance took the tenant over, and must hand its clients over when it runs again.
 */
describe('tenant ownership: a paused owner is fenced', () => {
  let sim: SimProcess;
  let redis: Redis;
  const prefix = uniqueName('e2e_fence');
  const gws: GatewayProcess[] = [];
  const clients: DiminuendoClient[] = [];

  beforeAll(async () => {
    sim = await startPodiumSim();
    redis = new Redis(TEST_REDIS_URL);
    const dataDir = tempDataDir('dim-fence-');
    for (const name of ['gw-p', 'gw-q']) {
      gws.push(
        await startGateway(
          leaseEnv(sim, prefix, {
            DATA_DIR: dataDir,
            PODIUM_RECONNECT_BASE_MS: '50',
            PODIUM_RECONNECT_ATTEMPTS: '2',
            DB_WRITE_BATCH_MS: '20',
            INSTANCE_ID: name,
          }),
        ),
      );
    }
  });
  afterAll(async () => {
    for (const c of clients) c.socket.terminate();
    for (const g of gws) {
      g.proc.kill('SIGCONT');
      await g.stop('SIGKILL');
    }
    await sim?.stop();
    await deleteRedisKeys(prefix, redis);
    await redis.quit();
  });

  it('after SIGSTOP past the TTL the other instance takes over; on SIGCONT the old owner writes nothing and closes its clients', async () => {
    const [p, q] = gws;
    const onP = await DiminuendoClient.connect(p.url);
    clients.push(onP);
    const created = await onP.request<any>({ type: 'create_session', agentType: 'echo' });
    const sessionId = created.session.id;
    await onP.request({ type: 'join_session', sessionId });
    const paced = await onP.request<any>({ type: 'run_turn', sessionId, text: 'pace:400:40:4' });
    await onP.waitFor('text_delta', 10_000, true, (e: any) => e.turnId === paced.turnId);

    p.proc.kill('SIGSTOP');
    // A client of Q is first forwarded to the frozen owner, then told to reconnect once it is seen gone.
    const first = await DiminuendoClient.connect(q.url);
    clients.push(first);
    expect((await first.closed).code).toBe(1012);
    const onQ = await DiminuendoClient.connect(q.url);
    clients.push(onQ);
    const row = (await onQ.request<any>({ type: 'list_sessions' })).sessions.find(
      (s: any) => s.id === sessionId,
    );
    expect(row.status).toBe('inactive');
    const snap = await onQ.request<any>({ type: 'join_session', sessionId });
    const next = await onQ.request<any>({ type: 'run_turn', sessionId, text: 'after takeover' });
    await onQ.waitFor('turn_complete', 15_000, true, (e: any) => e.turnId === next.turnId);
    expect(next.seq).toBeGreaterThan(snap.lastSeq);

    p.proc.kill('SIGCONT');
    // The old owner notices, closes its client with 1012, and its late writes are refused.
    expect((await onP.closed).code).toBe(1012);
    await eventually(
      () => p.output.some((l) => l.includes('lost the lease of tenant dev')),
      10_000,
      'lease loss log',
    );
    await new Promise((r) => setTimeout(r, 500));

    const stored = await storedEvents(onQ, sessionId);
    const seqs = stored.map((e) => e.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]);
    // The paced turn never ended in storage: the frozen owner's end-of-turn events were not written.
    const endsOfPaced = stored.filter(
      (e) => e.turnId === paced.turnId && ['turn_complete', 'turn_error', 'turn_stopped'].includes(e.type),
    );
    expect(endsOfPaced).toEqual([]);
    expect(stored.some((e) => e.type === 'turn_complete' && e.turnId === next.turnId)).toBe(true);
    const registry = (await onQ.request<any>({ type: 'list_sessions' })).sessions.find(
      (s: any) => s.id === sessionId,
    );
    expect(['ready', 'inactive']).toContain(registry.status);
  });
});

describe('tenant ownership: configuration', () => {
  it('refuses to start in lease mode when Redis cannot be reached, naming the setting', async () => {
    const { code, output } = await runGatewayExpectingExit({
      NODE_ENV: 'development',
      REDIS_URL: 'redis://127.0.0.1:9',
      TENANT_OWNERSHIP: 'lease',
    });
    expect(code).not.toBe(0);
    expect(output).toContain('TENANT_OWNERSHIP=lease needs Redis at redis://127.0.0.1:9');
  });

  it('refuses TENANT_OWNERSHIP=lease without REDIS_URL, and a bad LEASE_TTL_MS', async () => {
    const lease = await runGatewayExpectingExit({ NODE_ENV: 'development', TENANT_OWNERSHIP: 'lease' });
    expect(lease.code).not.toBe(0);
    expect(lease.output).toContain('TENANT_OWNERSHIP: "lease" needs REDIS_URL');
    const ttl = await runGatewayExpectingExit({ NODE_ENV: 'development', LEASE_TTL_MS: '10' });
    expect(ttl.code).not.toBe(0);
    expect(ttl.output).toContain('LEASE_TTL_MS');
  });
});

/**
 * Production auth across instances: each tenant is owned by one instance, forwarded clients keep their
 * tenant and role, and nothing crosses between tenants.
 */
describe('tenant ownership: tenants, roles and limits across instances (production auth)', () => {
  const ROLES_CLAIM = 'https://diminuendo.dev/roles';
  let jwks: JwksServer;
  let sim: SimProcess;
  let redis: Redis;
  const prefix = uniqueName('e2e_tenants');
  const gws: GatewayProcess[] = [];
  const clients: DiminuendoClient[] = [];
  const token = (sub: string, tenant: string, roles?: string[]) =>
    jwks.sign({ sub, tenant_id: tenant, ...(roles ? { [ROLES_CLAIM]: roles } : {}) });
  const connect = async (gw: GatewayProcess, t: string) => {
    const c = await DiminuendoClient.connect(gw.url, { token: t });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    jwks = await new JwksServer().start();
    sim = await startPodiumSim();
    redis = new Redis(TEST_REDIS_URL);
    const dataDir = tempDataDir('dim-tenants-');
    for (const name of ['gw-x', 'gw-y']) {
      gws.push(
        await startGateway(
          leaseEnv(sim, prefix, {
            NODE_ENV: 'production',
            AUTH_URL: jwks.url,
            AUTH_AUDIENCE: 'diminuendo-api',
            AUTH_ROLES_CLAIM: ROLES_CLAIM,
            DATA_DIR: dataDir,
            WS_RATE_LIMIT_MAX: '20',
            WS_RATE_LIMIT_WINDOW_MS: '60000',
            INSTANCE_ID: name,
          }),
        ),
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

  it('each tenant lives on one owner; forwarded clients see only their tenant, with their role', async () => {
    const [x, y] = gws;
    // acme is first served by X, globex by Y: each instance owns one tenant and forwards the other.
    const acmeOnX = await connect(x, token('alice', 'acme'));
    const globexOnY = await connect(y, token('gina', 'globex'));
    const acmeOnY = await connect(y, token('alice', 'acme'));
    const globexOnX = await connect(x, token('gina', 'globex'));
    expect(await redis.get(`${prefix}:lease:tenant:acme`)).toMatch(/^gw-x\./);
    expect(await redis.get(`${prefix}:lease:tenant:globex`)).toMatch(/^gw-y\./);

    const acmeSession = (await acmeOnY.request<any>({ type: 'create_session', agentType: 'echo' })).session;
    const globexSession = (await globexOnX.request<any>({ type: 'create_session', agentType: 'echo' }))
      .session;
    // Tenant events reach the tenant's clients on both instances, and only them.
    await acmeOnX.waitFor('session_created', 5000, true, (e: any) => e.session.id === acmeSession.id);
    await globexOnY.waitFor('session_created', 5000, true, (e: any) => e.session.id === globexSession.id);
    const ids = async (c: DiminuendoClient) =>
      (await c.request<any>({ type: 'list_sessions' })).sessions.map((s: any) => s.id);
    expect(await ids(acmeOnX)).toEqual(await ids(acmeOnY));
    expect(await ids(acmeOnY)).not.toContain(globexSession.id);
    expect(await ids(globexOnX)).not.toContain(acmeSession.id);
    expect(acmeOnX.log.some((e: any) => e.session?.id === globexSession.id)).toBe(false);
    // Another tenant's session id is not found, whichever instance the client is on.
    for (const c of [acmeOnX, acmeOnY]) {
      await expect(c.request({ type: 'join_session', sessionId: globexSession.id })).rejects.toMatchObject({
        code: 'SESSION_NOT_FOUND',
      });
    }

    // A viewer forwarded to the owner is refused by the owner's permission guard.
    const viewer = await connect(y, token('val', 'acme', ['viewer']));
    await expect(viewer.request({ type: 'create_session', agentType: 'echo' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    expect((await viewer.request<any>({ type: 'list_sessions' })).type).toBe('session_list');
  });

  it('counts the message rate limit of a forwarded client where it is connected', async () => {
    const [, y] = gws;
    const c = await connect(y, token('rita', 'acme'));
    // 20 per window, the authenticate message included: 19 answers…
    for (let i = 0; i < 19; i++)
      expect((await c.request<any>({ type: 'list_sessions' })).type).toBe('session_list');
    // …then RATE_LIMITED, from the client's own instance (the frame is refused before it is parsed).
    const limited = c.waitFor('error', 5000);
    c.send({ type: 'list_sessions' });
    expect(await limited).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) });
    expect(c.socket.readyState).toBe(1);
  });
});

describe('tenant ownership: a killed owner with no client anywhere', () => {
  let sim: SimProcess;
  let redis: Redis;
  const prefix = uniqueName('e2e_sweep');
  const gws: GatewayProcess[] = [];

  beforeAll(async () => {
    sim = await startPodiumSim();
    redis = new Redis(TEST_REDIS_URL);
    const dataDir = tempDataDir('dim-sweep-');
    for (const name of ['gw-s1', 'gw-s2']) {
      gws.push(await startGateway(leaseEnv(sim, prefix, { DATA_DIR: dataDir, INSTANCE_ID: name })));
    }
  });
  afterAll(async () => {
    await Promise.all(gws.map((g) => g.stop('SIGKILL')));
    await sim?.stop();
    await deleteRedisKeys(prefix, redis);
    await redis.quit();
  });

  it('is swept: a survivor takes its tenants over and recovers their stale sessions without being asked', async () => {
    const [s1, s2] = gws;
    const c = await DiminuendoClient.connect(s1.url);
    const { session } = await c.request<any>({ type: 'create_session', agentType: 'echo' });
    await c.request({ type: 'join_session', sessionId: session.id });
    await c.close();
    const lease = `${prefix}:lease:tenant:dev`;
    expect(await redis.get(lease)).toMatch(/^gw-s1\./);

    await s1.stop('SIGKILL');
    await eventually(
      async () => /^gw-s2\./.test((await redis.get(lease)) ?? ''),
      5 * LEASE_TTL_MS,
      'takeover',
    );
    await eventually(
      () => s2.output.some((l) => l.includes('took over tenant dev from gw-s1.')),
      5000,
      'log',
    );
    const after = await DiminuendoClient.connect(s2.url);
    const row = (await after.request<any>({ type: 'list_sessions' })).sessions.find(
      (s: any) => s.id === session.id,
    );
    expect(row.status).toBe('inactive');
    after.socket.terminate();
  });
});

describe('tenant ownership: idle release', () => {
  let sim: SimProcess;
  let redis: Redis;
  let gw: GatewayProcess;
  const prefix = uniqueName('e2e_idle');

  beforeAll(async () => {
    sim = await startPodiumSim();
    redis = new Redis(TEST_REDIS_URL);
    gw = await startGateway(
      leaseEnv(sim, prefix, {
        LEASE_IDLE_RELEASE_MS: '1000',
        SESSION_IDLE_TIMEOUT_MS: '1000',
        SESSION_REAPER_INTERVAL_MS: '200',
        INSTANCE_ID: 'gw-idle',
      }),
    );
  });
  afterAll(async () => {
    await gw?.stop('SIGKILL');
    await sim?.stop();
    await deleteRedisKeys(prefix, redis);
    await redis.quit();
  });

  it('gives a tenant back once it has had no client and no live session for LEASE_IDLE_RELEASE_MS', async () => {
    const lease = `${prefix}:lease:tenant:dev`;
    const c = await DiminuendoClient.connect(gw.url);
    const { session } = await c.request<any>({ type: 'create_session', agentType: 'echo' });
    await c.request({ type: 'join_session', sessionId: session.id });
    expect(await redis.get(lease)).toMatch(/^gw-idle\./);
    await c.close();
    // The session is reaped, then the tenant stays idle for a second: released, not expired.
    await eventually(async () => (await redis.get(lease)) === null, 10_000, 'idle release');
    await eventually(() => gw.output.some((l) => l.includes('released tenant dev')), 5000, 'release log');
    // The next client takes it again, with a newer token, and finds its data.
    const again = await DiminuendoClient.connect(gw.url);
    expect(await redis.get(lease)).toMatch(/^gw-idle\.[0-9a-f]+:2$/);
    const ids = (await again.request<any>({ type: 'list_sessions' })).sessions.map((s: any) => s.id);
    expect(ids).toContain(session.id);
    again.socket.terminate();
  });
});
