import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { asTenantId, type TenantId } from '@app/common';
import { CREDIT_ENTITIES, openSqlite, SHARED_CREDIT_MIGRATIONS } from '@app/persistence';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_DATABASE_URL, uniqueName } from '../../../test/support/services';
import { TcpProxy } from '../../../test/support/tcp-proxy';
import type { BillingConfig, SharedCreditDatabaseConfig } from './billing.config';
import { CreditsService } from './credits.service';
import { InsufficientCreditsError } from './ledger-math';
import { CreditStoreUnavailableError } from './credit-store';
import { isConnectionFailure, PostgresCreditStore } from './postgres-credit-store';
import { PriceTable } from './pricing';

/*
 * Integration: PostgresCreditStore on the machine's real PostgreSQL (TEST_DATABASE_URL). The suite
 * works in a schema of its own, dropped at the end; several stores (separate pools, as separate
 * gateway instances would have) write the same accounts.
 */

const R = 1_000_000;
const schema = uniqueName('credits_it');
const config: SharedCreditDatabaseConfig = { url: TEST_DATABASE_URL, schema, poolMax: 6 };
let stores: PostgresCreditStore[] = [];

beforeAll(async () => {
  Logger.overrideLogger(false);
  // Three "instances" starting at once: the advisory lock lets exactly one of them migrate.
  stores = await Promise.all([1, 2, 3].map(() => PostgresCreditStore.open(config)));
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  const admin = new DataSource({ type: 'postgres', url: TEST_DATABASE_URL });
  await admin.initialize();
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.destroy();
});

let n = 0;
const freshTenant = (): TenantId => asTenantId(`pg-t${++n}`);

/** Replays a tenant's ledger (oldest first) and checks every balance_after/reserved_after and the account. */
async function replay(
  store: PostgresCreditStore,
  t: TenantId,
): Promise<{ balance: number; reserved: number }> {
  const entries = (await store.ledger(t, 10_000)).entries.reverse();
  let balance = 0;
  let reserved = 0;
  const held = new Map<string, number>();
  for (const e of entries) {
    if (e.kind === 'grant' || e.kind === 'adjust') balance += e.amount;
    if (e.kind === 'reserve') {
      expect(balance - reserved).toBeGreaterThanOrEqual(e.amount);
      reserved += e.amount;
      held.set(e.reservationId!, e.amount);
    }
    if (e.kind === 'settle') {
      balance -= e.amount;
      reserved -= held.get(e.reservationId!) ?? 0;
      held.delete(e.reservationId!);
    }
    if (e.kind === 'release') {
      reserved -= e.amount;
      held.delete(e.reservationId!);
    }
    expect({ balance: e.balanceAfter, reserved: e.reservedAfter }).toEqual({ balance, reserved });
  }
  expect(await store.account(t)).toMatchObject({ balance, reserved });
  return { balance, reserved };
}

describe('PostgresCreditStore on real PostgreSQL', () => {
  it('migrated once into its own schema, with the tables of a tenant registry', async () => {
    const ds = new DataSource({ type: 'postgres', url: TEST_DATABASE_URL });
    await ds.initialize();
    try {
      const tables = (
        (await ds.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [
          schema,
        ])) as { table_name: string }[]
      ).map((r) => r.table_name);
      expect(tables.sort()).toEqual([
        'credit_account',
        'credit_ledger',
        'credit_migrations',
        'credit_reservations',
      ]);
      expect(await ds.query(`SELECT name FROM "${schema}".credit_migrations`)).toEqual([
        { name: 'SharedCredits1764000000101' },
      ]);
    } finally {
      await ds.destroy();
    }
  });

  it('runs the turn cycle with its ledger, amounts as numbers', async () => {
    const [store, other] = stores;
    const t = freshTenant();
    expect(await store.account(t)).toEqual({ balance: 0, reserved: 0, updatedAt: null });
    await expect(store.reserve(t, { id: `${t}-r0`, amount: R })).rejects.toBeInstanceOf(
      InsufficientCreditsError,
    );
    expect(await store.grant(t, 5 * R, { actorUserId: 'admin', note: 'top-up' })).toMatchObject({
      kind: 'grant',
      amount: 5 * R,
      balanceAfter: 5 * R,
      note: 'top-up',
    });
    await store.reserve(t, { id: `${t}-r1`, amount: R, sessionId: 's1', turnId: 'turn-1' });
    await other.reserve(t, { id: `${t}-r2`, amount: R, sessionId: 's2', turnId: 'turn-2' });
    expect(await other.account(t)).toMatchObject({ balance: 5 * R, reserved: 2 * R });
    expect(await store.settle(t, `${t}-r1`, 123_456)).toMatchObject({ kind: 'settle', amount: 123_456 });
    expect(await other.settle(t, `${t}-r1`, 123_456)).toBeNull();
    expect(await other.release(t, `${t}-r2`, 'stopped')).toMatchObject({ kind: 'release', amount: R });
    expect(await store.release(t, `${t}-r2`)).toBeNull();
    expect(await store.openReservations(t)).toEqual([]);
    expect(await replay(store, t)).toEqual({ balance: 5 * R - 123_456, reserved: 0 });
    const page = await store.ledger(t, 2);
    expect(page.entries.map((e) => e.kind)).toEqual(['release', 'settle']);
    expect((await store.ledger(t, 10, page.nextBefore)).entries.map((e) => e.kind)).toEqual([
      'reserve',
      'reserve',
      'grant',
    ]);
  });

  it('never overspends: concurrent reservations from three pools against one account', async () => {
    const t = freshTenant();
    const N = 7;
    await stores[0].grant(t, N * R + R / 2, {});
    const attempts = Array.from({ length: 40 }, (_, i) =>
      stores[i % 3].reserve(t, { id: `${t}-c${i}`, amount: R, sessionId: `s${i}` }).then(
        () => 'ok' as const,
        (err: unknown) => {
          expect(err).toBeInstanceOf(InsufficientCreditsError);
          return 'refused' as const;
        },
      ),
    );
    const results = await Promise.all(attempts);
    expect(results.filter((r) => r === 'ok')).toHaveLength(N);
    expect(await stores[1].account(t)).toMatchObject({ balance: N * R + R / 2, reserved: N * R });
    expect(await stores[2].openReservations(t)).toHaveLength(N);
    await replay(stores[0], t);
  });

  it('keeps the account right when settles, releases and reservations race across instances', async () => {
    const t = freshTenant();
    await stores[0].grant(t, 20 * R, {});
    const ids = Array.from({ length: 12 }, (_, i) => `${t}-m${i}`);
    await Promise.all(ids.map((id, i) => stores[i % 3].reserve(t, { id, amount: R })));
    // Each reservation closed twice at once, from two instances: exactly one close wins.
    const closes = await Promise.all(
      ids.flatMap((id, i) =>
        i % 2 === 0
          ? [stores[0].settle(t, id, 1000 + i), stores[1].settle(t, id, 1000 + i)]
          : [stores[1].release(t, id), stores[2].release(t, id)],
      ),
    );
    expect(closes.filter((c) => c !== null)).toHaveLength(ids.length);
    const final = await replay(stores[2], t);
    const cost = ids.reduce((sum, _id, i) => sum + (i % 2 === 0 ? 1000 + i : 0), 0);
    expect(final).toEqual({ balance: 20 * R - cost, reserved: 0 });
  });

  it('creates a new tenant account once when its first operations race', async () => {
    const t = freshTenant();
    await Promise.all(Array.from({ length: 9 }, (_, i) => stores[i % 3].grant(t, 1 + i, {})));
    expect((await stores[0].account(t)).balance).toBe(45);
    await replay(stores[0], t);
  });

  it('recovery on a shared store releases only reservations the instance claims', async () => {
    const t = freshTenant();
    await stores[0].grant(t, 10 * R, {});
    await stores[0].reserve(t, { id: `${t}-mine`, amount: R, sessionId: 'here' });
    await stores[1].reserve(t, { id: `${t}-theirs`, amount: R, sessionId: 'elsewhere' });
    const billing: BillingConfig = {
      enabled: true,
      reservationCredits: R,
      prices: {},
      defaultPrice: new PriceTable().fallback,
      database: config,
    };
    const credits = new CreditsService(billing, stores[2], new PriceTable());
    expect(await credits.recover(t)).toBe(0);
    expect(await credits.recover(t, (r) => Promise.resolve(r.sessionId === 'here'))).toBe(1);
    expect((await stores[0].openReservations(t)).map((r) => r.id)).toEqual([`${t}-theirs`]);
  });
});

describe('the shared credit migration', () => {
  it('also runs on SQLite (schema builder only)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shared-credits-sqlite-'));
    try {
      const ds = await openSqlite(join(dir, 'credits.db'), {
        entities: CREDIT_ENTITIES,
        migrations: SHARED_CREDIT_MIGRATIONS,
      });
      const tables = (
        (await ds.query("SELECT name FROM sqlite_master WHERE type = 'table'")) as { name: string }[]
      ).map((r) => r.name);
      expect(tables).toEqual(
        expect.arrayContaining(['credit_account', 'credit_ledger', 'credit_reservations']),
      );
      await ds.destroy();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('PostgresCreditStore when PostgreSQL cannot be reached', () => {
  it('connectInBackground starts without it: operations fail at once with CreditStoreUnavailableError', async () => {
    const store = await PostgresCreditStore.connectInBackground({
      url: 'postgres://postgres@127.0.0.1:1/test',
      schema,
      poolMax: 2,
    });
    try {
      await expect(store.account(freshTenant())).rejects.toBeInstanceOf(CreditStoreUnavailableError);
      await expect(store.reserve(freshTenant(), { id: 'r', amount: 1 })).rejects.toBeInstanceOf(
        CreditStoreUnavailableError,
      );
      expect(await store.probe()).toMatchObject({ ok: false });
    } finally {
      await store.close();
    }
    await expect(
      PostgresCreditStore.open({ url: 'postgres://postgres@127.0.0.1:1/test', schema, poolMax: 2 }),
    ).rejects.toThrow();
  });

  it('turns a database lost mid-run into CreditStoreUnavailableError, and works again when it is back', async () => {
    const target = new URL(TEST_DATABASE_URL);
    const proxy = await new TcpProxy(target.hostname, Number(target.port || 5432)).start();
    const store = await PostgresCreditStore.connectInBackground({
      url: proxy.rewrite(TEST_DATABASE_URL),
      schema,
      poolMax: 2,
    });
    const t = freshTenant();
    try {
      await store.grant(t, 5 * R, {});
      expect(await store.probe()).toEqual({ ok: true });
      await proxy.cut();
      await expect(store.reserve(t, { id: 'lost', amount: R })).rejects.toBeInstanceOf(
        CreditStoreUnavailableError,
      );
      await expect(store.account(t)).rejects.toBeInstanceOf(CreditStoreUnavailableError);
      expect(await store.probe()).toMatchObject({ ok: false });
      await proxy.restore();
      // The pool opens new connections once the database answers again.
      let back = await store.probe();
      for (let i = 0; i < 20 && !back.ok; i++) back = await store.probe();
      expect(back).toEqual({ ok: true });
      await store.reserve(t, { id: 'after', amount: R });
      expect(await store.account(t)).toMatchObject({ balance: 5 * R, reserved: R });
    } finally {
      await store.close();
      await proxy.cut();
    }
  });
});

describe('isConnectionFailure', () => {
  it.each([
    [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' }, true],
    [{ driverError: { code: '08006' }, message: 'x' }, true],
    [{ code: '57P01', message: 'terminating connection due to administrator command' }, true],
    [new Error('Connection terminated unexpectedly'), true],
    [new Error('timeout exceeded when trying to connect'), true],
    [{ driverError: { code: '23505' }, message: 'duplicate key value violates unique constraint' }, false],
    [new InsufficientCreditsError(), false],
    [undefined, false],
  ])('%p → %p', (err, expected) => {
    expect(isConnectionFailure(err)).toBe(expected);
  });
});
