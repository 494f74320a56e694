import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { DiminuendoClient, ProtocolError } from '@app/client';
import { eventually } from './support/admin-http';
import { startGateway, tempDataDir, type GatewayProcess } from './support/gateway-process';
import { SIM_KEY, startPodiumSim, type SimProcess } from './support/podium-sim';
import { deleteRedisKeys, TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from './support/services';
import { TcpProxy } from './support/tcp-proxy';

/** GET a probe: status code, parsed body and the raw text (to prove what it does not contain). */
async function probe(url: string): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text), text };
}

async function errorCode(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ProtocolError)) throw new Error(`expected a protocol error, got ${String(err)}`);
  return err.code;
}

describe('health when Podium is unreachable (H7): degraded, not out of service', () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await startGateway({ NODE_ENV: 'development', PODIUM_URL: 'http://127.0.0.1:9' });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('answers 200 degraded on /health and /health/ready, with a short code instead of the upstream error', async () => {
    for (const path of ['/health', '/health/ready']) {
      const { status, body, text } = await probe(`${gw.url}${path}`);
      expect({ path, status, health: body.status }).toEqual({ path, status: 200, health: 'degraded' });
      expect(body.details.podium).toMatchObject({ status: 'down', code: 'UNREACHABLE' });
      expect(body.details.dataDir).toEqual({ status: 'up' });
      expect(body.details.lifecycle).toMatchObject({ status: 'up' });
      expect(text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1:9|fetch failed/);
    }
    expect((await fetch(`${gw.url}/health/live`)).status).toBe(200);
    // The details are in the log, for the operator.
    expect(gw.output.join('\n')).toContain('podium is down');
  });

  it('keeps serving sessions and history; a turn answers AGENT_UNAVAILABLE', async () => {
    const c = await DiminuendoClient.connect(gw.url);
    try {
      const { session } = await c.request<any>({ type: 'create_session', agentType: 'echo' });
      const list = await c.request<any>({ type: 'list_sessions' });
      expect(list.sessions.map((s: any) => s.id)).toContain(session.id);
      expect(
        await errorCode(
          c.request({ type: 'run_turn', sessionId: session.id, text: 'hello', requestId: 'r1' }),
        ),
      ).toBe('AGENT_UNAVAILABLE');
      await expect(c.request({ type: 'get_history', sessionId: session.id })).resolves.toMatchObject({
        type: 'history',
      });
    } finally {
      await c.close();
    }
  });
});

describe('health when DATA_DIR stops being writable', () => {
  it('answers 503 on /health and /health/ready (this instance cannot serve), while staying live', async () => {
    const parent = tempDataDir('dim-health-');
    const dataDir = join(parent, 'data');
    const sim = await startPodiumSim();
    const gw = await startGateway({
      NODE_ENV: 'development',
      DATA_DIR: dataDir,
      PODIUM_URL: sim.url,
      PODIUM_API_KEY: SIM_KEY,
    });
    try {
      expect((await probe(`${gw.url}/health`)).body.status).toBe('ok');
      // Where the data directory was is now a plain file: nothing can be created under it.
      renameSync(dataDir, join(parent, 'moved'));
      writeFileSync(dataDir, 'not a directory');
      const health = await eventually(
        () => probe(`${gw.url}/health`),
        (r) => r.status === 503,
        15_000,
        '/health 503',
      );
      expect(health.body.status).toBe('error');
      expect(health.body.details.dataDir).toEqual({ status: 'down', code: 'NOT_WRITABLE' });
      expect(health.body.details.podium).toMatchObject({ status: 'up' });
      expect(health.text).not.toMatch(/ENOTDIR|EEXIST/);
      const ready = await probe(`${gw.url}/health/ready`);
      expect({ status: ready.status, health: ready.body.status }).toEqual({ status: 503, health: 'error' });
      expect((await fetch(`${gw.url}/health/live`)).status).toBe(200);
    } finally {
      await gw.stop();
      await sim.stop();
    }
  });
});

describe('health and turns when the shared credit ledger (PostgreSQL) is unreachable', () => {
  let sim: SimProcess;
  let gw: GatewayProcess;
  beforeAll(async () => {
    sim = await startPodiumSim();
    gw = await startGateway({
      NODE_ENV: 'development',
      BILLING_ENABLED: 'true',
      BILLING_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test',
      PODIUM_URL: sim.url,
      PODIUM_API_KEY: SIM_KEY,
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await sim?.stop();
  });

  it('starts anyway, and reports degraded (200) with a short code', async () => {
    for (const path of ['/health', '/health/ready']) {
      const { status, body, text } = await probe(`${gw.url}${path}`);
      expect({ path, status, health: body.status }).toEqual({ path, status: 200, health: 'degraded' });
      expect(body.details.billingDatabase).toEqual({ status: 'down', code: 'UNREACHABLE' });
      expect(body.details.podium).toMatchObject({ status: 'up' });
      expect(text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1:1\b/);
    }
  });

  it('answers a turn with BILLING_UNAVAILABLE while reads keep working', async () => {
    const c = await DiminuendoClient.connect(gw.url);
    try {
      const { session } = await c.request<any>({ type: 'create_session', agentType: 'echo' });
      expect(
        await errorCode(
          c.request({ type: 'run_turn', sessionId: session.id, text: 'hello', requestId: 't1' }),
        ),
      ).toBe('BILLING_UNAVAILABLE');
      const list = await c.request<any>({ type: 'list_sessions' });
      expect(list.sessions.map((s: any) => s.id)).toContain(session.id);
      const history = await c.request<any>({ type: 'get_history', sessionId: session.id });
      expect(history.messages).toEqual([]);
      // The connection survives.
      await expect(c.request({ type: 'ping' })).resolves.toMatchObject({ type: 'pong' });
    } finally {
      await c.close();
    }
    // The admin API says the same for credits (dev identity: owner of tenant dev).
    const balance = await fetch(`${gw.url}/api/v1/billing`);
    expect(balance.status).toBe(503);
    expect(await balance.json()).toMatchObject({ statusCode: 503, code: 'BILLING_UNAVAILABLE' });
  });
});

describe('a shared credit ledger lost while the gateway runs', () => {
  let sim: SimProcess;
  let gw: GatewayProcess;
  let proxy: TcpProxy;
  let pg: DataSource;
  const schema = uniqueName('e2e_health');

  beforeAll(async () => {
    const target = new URL(TEST_DATABASE_URL);
    proxy = await new TcpProxy(target.hostname, Number(target.port || 5432)).start();
    sim = await startPodiumSim();
    gw = await startGateway({
      NODE_ENV: 'development',
      BILLING_ENABLED: 'true',
      BILLING_DATABASE_URL: proxy.rewrite(TEST_DATABASE_URL),
      BILLING_DATABASE_SCHEMA: schema,
      PODIUM_URL: sim.url,
      PODIUM_API_KEY: SIM_KEY,
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await sim?.stop();
    await proxy?.cut();
    pg = new DataSource({ type: 'postgres', url: TEST_DATABASE_URL });
    await pg.initialize();
    await pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pg.destroy();
  });

  it('goes from ok to degraded; turns answer BILLING_UNAVAILABLE, reads keep working', async () => {
    expect((await probe(`${gw.url}/health`)).body.details.billingDatabase).toEqual({ status: 'up' });
    const c = await DiminuendoClient.connect(gw.url);
    try {
      const { session } = await c.request<any>({ type: 'create_session', agentType: 'echo' });
      // Up: the ledger answers (a zero balance, so the turn is refused for credits, not for the ledger).
      expect(await errorCode(c.request({ type: 'run_turn', sessionId: session.id, text: 'hi' }))).toBe(
        'INSUFFICIENT_CREDITS',
      );
      await proxy.cut();
      expect(await errorCode(c.request({ type: 'run_turn', sessionId: session.id, text: 'hi' }))).toBe(
        'BILLING_UNAVAILABLE',
      );
      const health = await eventually(
        () => probe(`${gw.url}/health`),
        (r) => r.body.status !== 'ok',
        15_000,
        '/health to see the ledger down',
      );
      expect({ status: health.status, health: health.body.status }).toEqual({
        status: 200,
        health: 'degraded',
      });
      expect(health.body.details.billingDatabase).toEqual({ status: 'down', code: 'UNREACHABLE' });
      expect((await probe(`${gw.url}/health/ready`)).status).toBe(200);
      const list = await c.request<any>({ type: 'list_sessions' });
      expect(list.sessions.map((s: any) => s.id)).toContain(session.id);
    } finally {
      await c.close();
    }
  });
});

describe.each([
  { ownership: 'lease', status: 503, health: 'error' },
  { ownership: 'local', status: 200, health: 'degraded' },
])('Redis lost while the gateway runs, TENANT_OWNERSHIP=$ownership', ({ ownership, status, health }) => {
  it(`answers ${status} ${health}: Redis is critical only when tenant leases depend on it`, async () => {
    const target = new URL(TEST_REDIS_URL);
    const proxy = await new TcpProxy(target.hostname, Number(target.port || 6379)).start();
    const prefix = uniqueName('e2e_health');
    const gw = await startGateway({
      NODE_ENV: 'development',
      REDIS_URL: proxy.rewrite(TEST_REDIS_URL),
      REDIS_KEY_PREFIX: prefix,
      TENANT_OWNERSHIP: ownership,
    });
    try {
      expect((await probe(`${gw.url}/health`)).body.details.redis).toEqual({ status: 'up' });
      await proxy.cut();
      for (const path of ['/health', '/health/ready']) {
        const r = await eventually(
          () => probe(`${gw.url}${path}`),
          (x) => x.body.details.redis?.status === 'down',
          15_000,
          `${path} to see Redis down`,
        );
        expect({ path, status: r.status, health: r.body.status }).toEqual({ path, status, health });
        expect(['UNREACHABLE', 'TIMEOUT']).toContain(r.body.details.redis.code);
        expect(r.text).not.toMatch(/ECONNREFUSED|ECONNRESET|Connection is closed/);
      }
      expect((await fetch(`${gw.url}/health/live`)).status).toBe(200);
    } finally {
      await gw.stop('SIGKILL');
      await proxy.cut();
      await deleteRedisKeys(prefix);
    }
  });
});

describe('METRICS_PORT', () => {
  it('serves /metrics on its own port and not on the main port', async () => {
    const gw = await startGateway({ NODE_ENV: 'development', METRICS_PORT: '0' });
    try {
      const m = /Metrics listening on 127\.0\.0\.1:(\d+)/.exec(gw.output.join('\n'));
      expect(m).not.toBeNull();
      const metricsUrl = `http://127.0.0.1:${m![1]}`;
      const scrape = await fetch(`${metricsUrl}/metrics`);
      expect(scrape.status).toBe(200);
      expect(scrape.headers.get('content-type')).toContain('text/plain');
      expect(await scrape.text()).toContain('diminuendo_ws_connections');
      expect((await fetch(`${gw.url}/metrics`)).status).toBe(404);
      expect(gw.output.join('\n')).toContain('own listener on port 0'); // configuration summary
      // The metrics port serves nothing else.
      expect((await fetch(`${metricsUrl}/health`)).status).toBe(404);
    } finally {
      await gw.stop();
    }
  });
});
