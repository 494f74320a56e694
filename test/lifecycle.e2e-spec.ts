import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { DiminuendoClient } from '@app/client';
import { DURABLE_EVENT_TYPES, type SessionEvent } from '@app/protocol';
import { startGateway, tempDataDir, type GatewayProcess } from './support/gateway-process';
import { edgeGet, findNginx, startEdgeProxy, type EdgeProxy } from './support/nginx';
import { SIM_KEY, startPodiumSim, type SimProcess } from './support/podium-sim';
import { databases, query } from './support/sqlite';

type Ev = SessionEvent & { requestId?: string };
const durableOf = (c: DiminuendoClient, id: string) =>
  c.log.filter(
    (e: any) => e.sessionId === id && typeof e.seq === 'number' && DURABLE_EVENT_TYPES.has(e.type),
  ) as Ev[];
const strip = ({ requestId: _r, ...rest }: any) => rest;

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('lifecycle and operations', () => {
  let sim: SimProcess;
  const env = (dataDir: string, extra: Record<string, string> = {}) => ({
    NODE_ENV: 'development',
    DATA_DIR: dataDir,
    PODIUM_URL: sim.url,
    PODIUM_API_KEY: SIM_KEY,
    ...extra,
  });

  beforeAll(async () => {
    sim = await startPodiumSim();
  });
  afterAll(async () => {
    await sim.stop();
  });
  beforeEach(async () => {
    await sim.reset();
  });

  /** n clients, each streaming a long echo turn in its own session. */
  async function streaming(
    gw: GatewayProcess,
    n: number,
  ): Promise<{ clients: DiminuendoClient[]; ids: string[] }> {
    await sim.config({ tokenDelayMs: 15 });
    const clients = await Promise.all(Array.from({ length: n }, () => DiminuendoClient.connect(gw.url)));
    const ids: string[] = [];
    for (const c of clients) {
      const { session } = await c.request<any>({ type: 'create_session', agentType: 'echo' });
      ids.push(session.id);
      await c.request({ type: 'join_session', sessionId: session.id });
      await c.request({
        type: 'run_turn',
        sessionId: session.id,
        text: 'stream me slowly please '.repeat(30),
      });
    }
    await waitFor(
      () => clients.every((c) => c.received('text_delta').length >= 5),
      10_000,
      'deltas on every client',
    );
    return { clients, ids };
  }

  it('R1: SIGTERM while 10 sessions stream: server_shutdown then 1001, exit 0, nothing lost or duplicated', async () => {
    const dataDir = tempDataDir();
    const gw = await startGateway(env(dataDir));
    const { clients, ids } = await streaming(gw, 10);
    const closes = clients.map((c) => c.closed);

    const t0 = Date.now();
    const code = await gw.stop('SIGTERM');
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const closed = await Promise.all(closes);
    for (const [i, c] of clients.entries()) {
      expect(closed[i].code).toBe(1001);
      const shutdown = c.log.findIndex((e) => e.type === 'server_shutdown');
      expect(shutdown).toBeGreaterThanOrEqual(0);
      expect(c.log[shutdown]).toMatchObject({ type: 'server_shutdown', reason: 'deployment' });
    }
    expect(gw.output.join('\n')).toMatch(/shutdown: flush writer and close databases done/);

    const again = await startGateway(env(dataDir));
    try {
      const reader = await DiminuendoClient.connect(again.url);
      for (const [i, id] of ids.entries()) {
        const page = await reader.request<any>({ type: 'get_events', sessionId: id, limit: 1000 });
        const seqs = page.events.map((e: any) => e.seq);
        expect(new Set(seqs).size).toBe(seqs.length);
        const broadcast = durableOf(clients[i], id).map(strip);
        const stored = new Map(page.events.map((e: any) => [e.seq, e]));
        for (const e of broadcast) expect(stored.get(e.seq)).toEqual(e);
      }
      const list = await reader.request<any>({ type: 'list_sessions' });
      expect(list.sessions.every((s: any) => s.status === 'inactive')).toBe(true);
      await reader.close();
    } finally {
      await again.stop();
    }
  });

  it('R2: SIGKILL mid-stream: intact databases, sessions inactive, persisted seq a prefix, no seq reuse', async () => {
    const dataDir = tempDataDir();
    const gw = await startGateway(env(dataDir, { DB_WRITE_BATCH_MS: '20' }));
    const { clients, ids } = await streaming(gw, 3);
    await gw.stop('SIGKILL');
    await Promise.all(clients.map((c) => c.closed));

    for (const file of databases(dataDir)) {
      const [row] = await query(file, 'PRAGMA integrity_check');
      expect([file, row.integrity_check]).toEqual([file, 'ok']);
    }
    const stale = await query(
      join(dataDir, 'tenants', 'dev', 'registry.db'),
      "SELECT id, status FROM sessions WHERE status != 'inactive'",
    );
    expect(stale.length).toBeGreaterThan(0); // the crash left them live on disk

    const again = await startGateway(env(dataDir));
    try {
      await waitFor(() => again.output.some((l) => l.includes('stale session recovery')), 10_000, 'recovery');
      const after = await query(
        join(dataDir, 'tenants', 'dev', 'registry.db'),
        'SELECT id, status FROM sessions',
      );
      expect(after.every((r) => r.status === 'inactive')).toBe(true);

      const c = await DiminuendoClient.connect(again.url);
      for (const [i, id] of ids.entries()) {
        const stored = (await c.request<any>({ type: 'get_events', sessionId: id, limit: 1000 })).events.map(
          (e: any) => e.seq,
        );
        const seen = durableOf(clients[i], id).map((e) => e.seq);
        const common = Math.min(stored.length, seen.length);
        expect(stored.slice(0, common)).toEqual(seen.slice(0, common));
        expect(Math.abs(stored.length - seen.length)).toBeLessThanOrEqual(100);
        const highest = Math.max(
          0,
          ...clients[i].log
            .filter((e: any) => e.sessionId === id && typeof e.seq === 'number')
            .map((e: any) => e.seq),
          ...stored,
        );

        const snap = await c.request<any>({ type: 'join_session', sessionId: id });
        expect(snap.session.status).toBe('ready');
        const fresh = c.log.filter((e: any) => e.sessionId === id && typeof e.seq === 'number');
        expect(Math.min(...fresh.map((e: any) => e.seq))).toBeGreaterThan(highest);
      }
      await c.close();
    } finally {
      await again.stop();
    }
  });

  it('backs up a session, a tenant and everything online, and the copy serves the same events', async () => {
    const dataDir = tempDataDir();
    const gw = await startGateway(env(dataDir));
    const { clients, ids } = await streaming(gw, 2);
    const cli = resolve(__dirname, '../dist/apps/gateway/apps/gateway/src/cli/backup.js');
    const out = tempDataDir('dim-backup-');
    // While the gateway writes.
    const tenant = spawnSync(
      process.execPath,
      [cli, '--data-dir', dataDir, '--out', join(out, 'tenant'), '--tenant', 'dev'],
      { encoding: 'utf8' },
    );
    expect(tenant.status).toBe(0);
    expect(tenant.stdout).toContain('tenants/dev/registry.db');
    for (const id of ids) expect(tenant.stdout).toContain(`sessions/${id}/session.db`);
    const one = spawnSync(
      process.execPath,
      [cli, '--data-dir', dataDir, '--out', join(out, 'one'), '--session', ids[0]],
      { encoding: 'utf8' },
    );
    expect(one.status).toBe(0);
    const bad = spawnSync(
      process.execPath,
      [cli, '--data-dir', dataDir, '--out', join(out, 'bad'), '--session', '../x'],
      { encoding: 'utf8' },
    );
    expect(bad.status).toBe(1);

    for (const c of clients) await c.waitFor('turn_complete', 20_000, true);
    await new Promise((r) => setTimeout(r, 200));
    const full = spawnSync(
      process.execPath,
      [cli, '--data-dir', dataDir, '--out', join(out, 'all'), '--all'],
      { encoding: 'utf8' },
    );
    expect(full.status).toBe(0);
    for (const file of databases(join(out, 'all'))) {
      const [row] = await query(file, 'PRAGMA integrity_check');
      expect(row.integrity_check).toBe('ok');
    }
    const live = await clients[0].request<any>({ type: 'get_events', sessionId: ids[0], limit: 1000 });
    await gw.stop();

    // Restore: the backup is a data directory of its own.
    const restored = await startGateway(env(join(out, 'all')));
    try {
      const c = await DiminuendoClient.connect(restored.url);
      const page = await c.request<any>({ type: 'get_events', sessionId: ids[0], limit: 1000 });
      expect(page.events).toEqual(live.events);
      await c.close();
    } finally {
      await restored.stop();
    }
  });

  it('exposes Prometheus metrics for connections, events, the writer, Podium and auth', async () => {
    const gw = await startGateway(env(tempDataDir()));
    try {
      const c = await DiminuendoClient.connect(gw.url);
      const { session } = await c.request<any>({ type: 'create_session', agentType: 'echo' });
      await c.request({ type: 'join_session', sessionId: session.id });
      await c.request({ type: 'run_turn', sessionId: session.id, text: 'count me' });
      await c.waitFor('turn_complete', 10_000, true);
      c.sendRaw('not json');
      await c.request({ type: 'get_events', sessionId: session.id });
      const text = await (await fetch(`${gw.url}/metrics`)).text();
      const value = (name: string) =>
        Number(
          new RegExp(`^${name.replace(/[{}"=]/g, (m) => `\\${m}`)} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN,
        );
      expect(value('diminuendo_ws_connections')).toBe(1);
      expect(value('diminuendo_active_sessions{state="ready"}')).toBe(1);
      expect(value('diminuendo_events_published_total{durable="true"}')).toBeGreaterThan(3);
      expect(value('diminuendo_events_published_total{durable="false"}')).toBeGreaterThan(0);
      expect(value('diminuendo_db_rows_written_total')).toBeGreaterThan(3);
      expect(value('diminuendo_errors_total{code="INVALID_JSON"}')).toBe(1);
      expect(text).toMatch(
        /diminuendo_podium_request_seconds_count\{method="POST",route="\/api\/v1\/instances",status="201"\} 1/,
      );
      expect(text).toContain('diminuendo_db_write_batch_seconds_bucket');
      expect(text).toContain('diminuendo_auth_failures_total');
      await c.close();
    } finally {
      await gw.stop();
    }
  });

  it('refuses upgrades and reports not-ready while draining', async () => {
    const gw = await startGateway(env(tempDataDir(), { SHUTDOWN_DRAIN_MS: '1500' }));
    const c = await DiminuendoClient.connect(gw.url);
    const stopping = gw.stop('SIGTERM');
    await c.waitFor('server_shutdown', 5000, true);
    expect((await fetch(`${gw.url}/health/ready`)).status).toBe(503);
    await expect(DiminuendoClient.connect(gw.url)).rejects.toThrow(/503/);
    expect(await stopping).toBe(0);
  });

  it('streams a turn through a real nginx with the deployed configuration (TLS, upgrade, long timeouts)', async () => {
    const nginx = findNginx();
    expect(nginx).toBeDefined(); // `npm test` (scripts/test-prep.sh) installs Debian's nginx when missing
    const gw = await startGateway(env(tempDataDir(), { TRUST_PROXY: 'true' }));
    let proxy: EdgeProxy | undefined;
    try {
      proxy = await startEdgeProxy(nginx!, `127.0.0.1:${gw.port}`);
      // Rendered with the documented envsubst list: every placeholder filled, nginx's own variables kept.
      expect(proxy.site).not.toMatch(/\$\{/);
      expect(proxy.site).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
      expect(proxy.site).toMatch(/proxy_read_timeout 3600s/);
      expect(proxy.site).toMatch(/ssl_protocols\s+TLSv1\.2 TLSv1\.3;/);
      expect(proxy.check()).toMatchObject({ status: 0 });
      const port = proxy.port;

      const live = await edgeGet(port, '/health/live');
      expect(live.status).toBe(200);
      expect(live.headers['strict-transport-security']).toMatch(/max-age/);
      // Only liveness is public: readiness, the full report and the metrics stay inside.
      for (const path of ['/health', '/health/ready', '/metrics', '/']) {
        expect([path, (await edgeGet(port, path)).status]).toEqual([path, 404]);
      }
      // The admin API goes through the edge.
      const me = await edgeGet(port, '/api/v1/me');
      expect(me.status).toBe(200);
      expect(JSON.parse(me.body)).toMatchObject({ tenantId: 'dev' });

      // A client-sent X-Forwarded-For is replaced by the address nginx saw: the gateway (trusting one
      // proxy hop) records 127.0.0.1, never the spoofed address.
      const spoofed = '203.0.113.77';
      const c = await DiminuendoClient.connect(`wss://127.0.0.1:${port}`, {
        rejectUnauthorized: false,
        headers: { 'x-forwarded-for': spoofed, 'x-real-ip': spoofed },
      });

      const { session } = await c.request<any>({ type: 'create_session', agentType: 'coding-agent' });
      await c.request({ type: 'join_session', sessionId: session.id });
      await c.request({ type: 'run_turn', sessionId: session.id, text: 'through the proxy' });
      const done = await c.waitFor('turn_complete', 15_000, true);
      const deltas = c
        .received('text_delta')
        .map((e) => e.text)
        .join('');
      expect(done.finalText).toBe(deltas);
      await c.close();
      // The connection's log line (written when it closes) names the address nginx saw.
      const closed = () => gw.output.filter((l) => l.includes('connection closed'));
      await waitFor(() => closed().length > 0, 5000, 'the connection log line');
      expect(closed().join('\n')).toContain('127.0.0.1');
      expect(gw.output.join('\n')).not.toContain(spoofed);
    } finally {
      proxy?.stop();
      await gw.stop();
    }
  });
});
