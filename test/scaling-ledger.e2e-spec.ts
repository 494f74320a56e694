import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { DiminuendoClient, ProtocolError } from '@app/client';
import { adminClient, eventually } from './support/admin-http';
import { startGateway, tempDataDir, type GatewayProcess } from './support/gateway-process';
import { JwksServer } from './support/jwks-server';
import { SIM_KEY, startPodiumSim, type SimProcess } from './support/podium-sim';
import {
  deleteRedisKeys,
  TEST_CLUSTER_SECRET,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  uniqueName,
} from './support/services';
import { query } from './support/sqlite';

const AUDIENCE = 'diminuendo-api';
const ROLES_CLAIM = 'https://diminuendo.test/roles';
const R = 1_000_000;
/** Reservations the balance covers. */
const N = 3;
/** Sessions per instance, each running one turn at once: 2 × 4 = 8 concurrent run_turns for N credits. */
const PER_INSTANCE = 4;

type LedgerRow = {
  id: number;
  kind: string;
  amount: string;
  reservation_id: string | null;
  balance_after: string;
  reserved_after: string;
};

/**
 * Two gateway processes and one BILLING_DATABASE_URL: one tenant's credits live in PostgreSQL, and
 * concurrent run_turns on both instances never reserve more than the balance — with separate DATA_DIRs
 * (each instance runs its own turns against the shared ledger), and with one shared DATA_DIR in lease
 * mode (the owner runs every turn, the other instance forwards its clients' run_turns).
 */
describe.each([
  { model: 'per-instance volumes', leases: false },
  { model: 'shared volume with tenant leases', leases: true },
])('shared credit ledger: two gateway processes, one PostgreSQL, $model (docs/scaling.md)', ({ leases }) => {
  let jwks: JwksServer;
  let sim: SimProcess;
  let gws: GatewayProcess[] = [];
  let pg: DataSource;
  const schema = uniqueName('e2e_ledger');
  const tenant = uniqueName('scale');
  const prefix = uniqueName('e2e_ledger');

  const token = (role: string) =>
    jwks.sign({ sub: `auth0|${role}`, tenant_id: tenant, [ROLES_CLAIM]: [role] }, { audience: AUDIENCE });
  const api = (gw: GatewayProcess, role = 'owner') => adminClient(gw.url, token(role));

  beforeAll(async () => {
    jwks = await new JwksServer().start();
    // Slow frames: every turn outlives the burst of reservations, so none settles before all have tried.
    sim = await startPodiumSim({ PODIUM_SIM_TOKEN_DELAY_MS: '150' });
    const env = {
      NODE_ENV: 'production',
      AUTH_URL: jwks.url,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_ROLES_CLAIM: ROLES_CLAIM,
      AUTH_RATE_LIMIT_MAX: '1000',
      WS_RATE_LIMIT_MAX: '1000',
      PODIUM_URL: sim.url,
      PODIUM_API_KEY: SIM_KEY,
      BILLING_ENABLED: 'true',
      TURN_RESERVATION_CREDITS: String(R),
      BILLING_DATABASE_URL: TEST_DATABASE_URL,
      BILLING_DATABASE_SCHEMA: schema,
      DB_WRITE_BATCH_MS: '20',
    };
    // Separate DATA_DIRs (startGateway makes one each), or one shared one with leases in Redis; started
    // at once: they race to migrate.
    const shared: Record<string, string> = leases
      ? {
          DATA_DIR: tempDataDir(),
          REDIS_URL: TEST_REDIS_URL,
          REDIS_KEY_PREFIX: prefix,
          CLUSTER_SECRET: TEST_CLUSTER_SECRET,
        }
      : {};
    gws = await Promise.all([1, 2].map(() => startGateway({ ...env, ...shared })));
    pg = new DataSource({ type: 'postgres', url: TEST_DATABASE_URL });
    await pg.initialize();
  });
  afterAll(async () => {
    await Promise.all(gws.map((g) => g.stop()));
    await sim?.stop();
    await jwks?.stop();
    if (leases) await deleteRedisKeys(prefix);
    if (pg?.isInitialized) {
      await pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pg.destroy();
    }
  });

  it('says where credits are kept', () => {
    for (const g of gws) {
      const log = g.output.join('\n');
      expect(log).toContain('credits are kept in the shared PostgreSQL database');
      expect(log).toContain(`schema ${schema}`);
    }
    if (leases) expect(gws[0].dataDir).toBe(gws[1].dataDir);
    else expect(gws[0].dataDir).not.toBe(gws[1].dataDir);
  });

  it('reports the shared credit database in /health', async () => {
    const health: any = await (await fetch(`${gws[1].url}/health`)).json();
    expect(health.details.billingDatabase).toEqual({ status: 'up' });
    if (leases) expect(health.details.redis).toEqual({ status: 'up' });
    else expect(health.details.redis).toBeUndefined();
  });

  it('a grant on one instance is the balance on the other', async () => {
    const grant = await api(gws[0], 'billing_admin')('POST', '/billing/grants', {
      amount: N * R + R / 2,
      note: 'covers N reservations',
    });
    expect(grant.status).toBe(201);
    const other = await api(gws[1])('GET', '/billing');
    expect(other.body).toMatchObject({ balance: N * R + R / 2, reserved: 0, billingEnabled: true });
  });

  it('concurrent run_turns on both instances start at most N turns, and the ledger replays to the account', async () => {
    const clients = await Promise.all(
      gws.map((g) => DiminuendoClient.connect(g.url, { token: token('owner') })),
    );
    const sessions: { c: DiminuendoClient; id: string }[] = [];
    for (const c of clients) {
      for (let i = 0; i < PER_INSTANCE; i++) {
        const created = await c.request<any>({ type: 'create_session', agentType: 'echo' });
        await c.request({ type: 'join_session', sessionId: created.session.id });
        sessions.push({ c, id: created.session.id });
      }
    }
    const before = (await sim.stats()).turnsReceived;

    const results = await Promise.all(
      sessions.map(({ c, id }) =>
        c
          .request<any>({ type: 'run_turn', sessionId: id, text: 'a turn that takes a while to stream back' })
          .then(
            (started) => ({ ok: true as const, c, turnId: started.turnId as string }),
            (err: unknown) => {
              expect(err).toBeInstanceOf(ProtocolError);
              expect((err as ProtocolError).code).toBe('INSUFFICIENT_CREDITS');
              return { ok: false as const };
            },
          ),
      ),
    );
    const started = results.filter((r) => r.ok);
    expect(started.length).toBeLessThanOrEqual(N);
    expect(started).toHaveLength(N);

    for (const r of started)
      if (r.ok) await r.c.waitFor('turn_complete', 30_000, true, (e) => e.turnId === r.turnId);
    expect((await sim.stats()).turnsReceived - before).toBe(N);

    const account = await eventually(
      async () => (await api(gws[1])('GET', '/billing')).body,
      (b) => b.reserved === 0,
      15_000,
      'reservations settled',
    );
    expect(account.balance).toBeLessThan(N * R + R / 2);

    // Replay the tenant's ledger straight from PostgreSQL.
    const rows: LedgerRow[] = await pg.query(
      `SELECT id, kind, amount, reservation_id, balance_after, reserved_after
         FROM "${schema}".credit_ledger WHERE tenant_id = $1 ORDER BY id`,
      [tenant],
    );
    let balance = 0;
    let reserved = 0;
    let maxReserved = 0;
    const held = new Map<string, number>();
    for (const row of rows) {
      const amount = Number(row.amount);
      if (row.kind === 'grant' || row.kind === 'adjust') balance += amount;
      if (row.kind === 'reserve') {
        expect(balance - reserved).toBeGreaterThanOrEqual(amount);
        reserved += amount;
        held.set(row.reservation_id!, amount);
      }
      if (row.kind === 'settle') {
        balance -= amount;
        reserved -= held.get(row.reservation_id!) ?? 0;
      }
      if (row.kind === 'release') reserved -= amount;
      maxReserved = Math.max(maxReserved, reserved);
      expect({
        id: row.id,
        balance: Number(row.balance_after),
        reserved: Number(row.reserved_after),
      }).toEqual({
        id: row.id,
        balance,
        reserved,
      });
    }
    expect(rows.filter((r) => r.kind === 'reserve')).toHaveLength(N);
    expect(rows.filter((r) => r.kind === 'settle')).toHaveLength(N);
    expect(maxReserved).toBeLessThanOrEqual(N * R);
    const [acct] = await pg.query(
      `SELECT balance, reserved FROM "${schema}".credit_account WHERE tenant_id = $1`,
      [tenant],
    );
    expect({ balance: Number(acct.balance), reserved: Number(acct.reserved) }).toEqual({
      balance,
      reserved: 0,
    });
    expect(account).toMatchObject({ balance, reserved: 0 });
    expect((await api(gws[0])('GET', '/billing')).body).toMatchObject({ balance, reserved: 0 });
    // Sessions are stored with the tenant's data (each instance's own, or the one shared registry), but
    // no credits: the shared database is the only ledger.
    for (const g of leases ? gws.slice(0, 1) : gws) {
      const registry = join(g.dataDir, 'tenants', tenant, 'registry.db');
      const stored = leases ? 2 * PER_INSTANCE : PER_INSTANCE;
      expect(await query(registry, 'SELECT COUNT(*) AS n FROM sessions')).toEqual([{ n: stored }]);
      expect(await query(registry, 'SELECT COUNT(*) AS n FROM credit_ledger')).toEqual([{ n: 0 }]);
      expect(await query(registry, 'SELECT COUNT(*) AS n FROM credit_account')).toEqual([{ n: 0 }]);
    }
    await Promise.all(clients.map((c) => c.close()));
  });
});
