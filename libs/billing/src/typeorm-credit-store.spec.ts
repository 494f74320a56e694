import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { asTenantId, type TenantId } from '@app/common';
import {
  openSqlite,
  RegistryCreditRepository,
  REGISTRY_ENTITIES,
  REGISTRY_MIGRATIONS,
  TenantRegistry,
  type PersistenceConfig,
} from '@app/persistence';
import { RegistryInitial1764000000001 } from '@app/persistence/migrations/registry-1-initial';
import type { BillingConfig } from './billing.config';
import { CreditsService } from './credits.service';
import { InsufficientCreditsError } from './ledger-math';
import { PriceTable } from './pricing';
import { TypeOrmCreditStore } from './typeorm-credit-store';

const R = 1_000_000;
let dataDir: string;
let registry: TenantRegistry;
let store: TypeOrmCreditStore;

function persistence(dir: string): PersistenceConfig {
  return { dataDir: dir, writeBatchMs: 50, writeBatchSize: 100, registryCache: 4, sessionCache: 4 };
}

function billing(enabled: boolean, reservationCredits = R): BillingConfig {
  return { enabled, reservationCredits, prices: {}, defaultPrice: new PriceTable().fallback, database: null };
}

beforeAll(() => {
  Logger.overrideLogger(false);
  dataDir = mkdtempSync(join(tmpdir(), 'credit-store-'));
  registry = new TenantRegistry(persistence(dataDir));
  store = new TypeOrmCreditStore(new RegistryCreditRepository(registry));
});

afterAll(async () => {
  await registry.closeAll();
  rmSync(dataDir, { recursive: true, force: true });
});

let n = 0;
const freshTenant = (): TenantId => asTenantId(`t${++n}`);

describe('TypeOrmCreditStore on real registry files', () => {
  it('starts every tenant at zero and refuses a reservation without credits', async () => {
    const t = freshTenant();
    expect(await store.account(t)).toEqual({ balance: 0, reserved: 0, updatedAt: null });
    await expect(store.reserve(t, { id: 'r0', amount: R })).rejects.toBeInstanceOf(InsufficientCreditsError);
    expect((await store.ledger(t, 10)).entries).toEqual([]);
    expect(await store.openReservations(t)).toEqual([]);
  });

  it('runs the turn cycle: grant, reserve, settle, release, each with its ledger entry', async () => {
    const t = freshTenant();
    const g = await store.grant(t, 5 * R, { actorUserId: 'auth0|admin', note: 'top-up' });
    expect(g).toMatchObject({
      kind: 'grant',
      amount: 5 * R,
      balanceAfter: 5 * R,
      reservedAfter: 0,
      note: 'top-up',
    });
    const r1 = await store.reserve(t, {
      id: 'r1',
      amount: R,
      sessionId: 's1',
      turnId: 'turn-1',
      actorUserId: 'u',
    });
    expect(r1).toMatchObject({ id: 'r1', status: 'open', amount: R, sessionId: 's1', turnId: 'turn-1' });
    await store.reserve(t, { id: 'r2', amount: R, sessionId: 's1', turnId: 'turn-2' });
    expect(await store.account(t)).toMatchObject({ balance: 5 * R, reserved: 2 * R });

    const s = await store.settle(t, 'r1', 123_456);
    expect(s).toMatchObject({ kind: 'settle', amount: 123_456, turnId: 'turn-1', reservationId: 'r1' });
    expect(s!.balanceAfter).toBe(5 * R - 123_456);
    expect(s!.reservedAfter).toBe(R);
    const rel = await store.release(t, 'r2', 'no usage');
    expect(rel).toMatchObject({
      kind: 'release',
      amount: R,
      turnId: 'turn-2',
      reservedAfter: 0,
      note: 'no usage',
    });
    expect(await store.account(t)).toMatchObject({ balance: 5 * R - 123_456, reserved: 0 });

    const page = await store.ledger(t, 10);
    expect(page.entries.map((e) => e.kind)).toEqual(['release', 'settle', 'reserve', 'reserve', 'grant']);
    expect(page.nextBefore).toBeUndefined();
    const ids = page.entries.map((e) => e.id);
    expect([...ids].sort((a, b) => b - a)).toEqual(ids);
  });

  it('settles and releases each reservation once', async () => {
    const t = freshTenant();
    await store.grant(t, 3 * R, {});
    await store.reserve(t, { id: 'a', amount: R });
    await store.reserve(t, { id: 'b', amount: R });
    expect(await store.settle(t, 'a', 10)).not.toBeNull();
    expect(await store.settle(t, 'a', 10)).toBeNull();
    expect(await store.release(t, 'a')).toBeNull();
    expect(await store.release(t, 'b')).not.toBeNull();
    expect(await store.release(t, 'b')).toBeNull();
    // A turn whose reservation was released still pays for its usage, without freeing R twice.
    expect(await store.settle(t, 'b', 25)).toMatchObject({ kind: 'settle', amount: 25, reservedAfter: 0 });
    expect(await store.settle(t, 'unknown', 25)).toBeNull();
    expect(await store.account(t)).toMatchObject({ balance: 3 * R - 35, reserved: 0 });
  });

  it('lets a settle exceed the reservation once; the next reservation then fails', async () => {
    const t = freshTenant();
    await store.grant(t, R, {});
    await store.reserve(t, { id: 'x', amount: R });
    const s = await store.settle(t, 'x', 3 * R);
    expect(s!.balanceAfter).toBe(-2 * R);
    await expect(store.reserve(t, { id: 'y', amount: R })).rejects.toMatchObject({
      code: 'INSUFFICIENT_CREDITS',
    });
    const adj = await store.adjust(t, 2 * R + R, { actorUserId: 'ops', note: 'goodwill' });
    expect(adj).toMatchObject({ kind: 'adjust', amount: 3 * R, balanceAfter: R });
    await expect(store.reserve(t, { id: 'y', amount: R })).resolves.toMatchObject({ status: 'open' });
  });

  it('never overspends under 60 concurrent reservations: exactly as many as the balance covers', async () => {
    const t = freshTenant();
    await store.grant(t, 10 * R + R / 2, {});
    const attempts = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) =>
        store.reserve(t, { id: `c${i}`, amount: R, sessionId: `s${i % 7}`, turnId: `turn-${i}` }),
      ),
    );
    const ok = attempts.filter((a) => a.status === 'fulfilled');
    const refused = attempts.filter((a) => a.status === 'rejected');
    expect(ok).toHaveLength(10);
    for (const r of refused)
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(InsufficientCreditsError);
    expect(await store.account(t)).toMatchObject({ balance: 10 * R + R / 2, reserved: 10 * R });
    expect(await store.openReservations(t)).toHaveLength(10);

    // Settle them all concurrently with interleaved new reservations: the books still balance.
    const open = await store.openReservations(t);
    await Promise.allSettled([
      ...open.map((r, i) => store.settle(t, r.id, 1000 + i)),
      ...Array.from({ length: 20 }, (_, i) => store.reserve(t, { id: `d${i}`, amount: R })),
    ]);
    const account = await store.account(t);
    const entries = (await store.ledger(t, 200)).entries.reverse();
    let balance = 0;
    let reserved = 0;
    for (const e of entries) {
      if (e.kind === 'grant' || e.kind === 'adjust') balance += e.amount;
      if (e.kind === 'reserve') {
        // A reservation was only taken against a covering balance.
        expect(balance - reserved).toBeGreaterThanOrEqual(e.amount);
        reserved += e.amount;
      }
      if (e.kind === 'settle') {
        balance -= e.amount;
        reserved -= R;
      }
      if (e.kind === 'release') reserved -= e.amount;
      expect({ id: e.id, balance, reserved }).toEqual({
        id: e.id,
        balance: e.balanceAfter,
        reserved: e.reservedAfter,
      });
    }
    expect(account).toMatchObject({ balance, reserved });
    expect(account.balance - account.reserved).toBeGreaterThanOrEqual(0);
  });

  it('pages the ledger newest first by id', async () => {
    const t = freshTenant();
    for (let i = 1; i <= 7; i++) await store.grant(t, i, {});
    const first = await store.ledger(t, 3);
    expect(first.entries.map((e) => e.amount)).toEqual([7, 6, 5]);
    expect(first.nextBefore).toBe(first.entries[2].id);
    const second = await store.ledger(t, 3, first.nextBefore);
    expect(second.entries.map((e) => e.amount)).toEqual([4, 3, 2]);
    const last = await store.ledger(t, 3, second.nextBefore);
    expect(last.entries.map((e) => e.amount)).toEqual([1]);
    expect(last.nextBefore).toBeUndefined();
  });

  it('keeps tenants apart and survives a reopen of the files', async () => {
    const a = freshTenant();
    const b = freshTenant();
    await store.grant(a, 42, {});
    expect((await store.account(b)).balance).toBe(0);
    const other = new TenantRegistry(persistence(dataDir));
    try {
      const again = new TypeOrmCreditStore(new RegistryCreditRepository(other));
      expect(await again.account(a)).toMatchObject({ balance: 42, reserved: 0 });
      expect((await again.ledger(a, 5)).entries).toHaveLength(1);
    } finally {
      await other.closeAll();
    }
  });

  it('migrates a registry created before credits existed, keeping its data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'credit-migrate-'));
    try {
      const file = join(dir, 'tenants', 'old', 'registry.db');
      const v1 = await openSqlite(file, {
        entities: REGISTRY_ENTITIES,
        migrations: [RegistryInitial1764000000001],
      });
      await v1.query(
        `INSERT INTO members (user_id, role, created_at, updated_at) VALUES ('u1', 'owner', 1, 1)`,
      );
      await v1.destroy();
      const v2 = await openSqlite(file, { entities: REGISTRY_ENTITIES, migrations: REGISTRY_MIGRATIONS });
      const tables = (
        (await v2.query("SELECT name FROM sqlite_master WHERE type = 'table'")) as { name: string }[]
      ).map((r) => r.name);
      expect(tables).toEqual(
        expect.arrayContaining([
          'sessions',
          'members',
          'api_keys',
          'credit_account',
          'credit_ledger',
          'credit_reservations',
        ]),
      );
      expect(await v2.query('SELECT role FROM members')).toEqual([{ role: 'owner' }]);
      await v2.destroy();
      const reg = new TenantRegistry(persistence(dir));
      try {
        await new TypeOrmCreditStore(new RegistryCreditRepository(reg)).grant(asTenantId('old'), 5, {});
        expect(
          (await new TypeOrmCreditStore(new RegistryCreditRepository(reg)).account(asTenantId('old')))
            .balance,
        ).toBe(5);
      } finally {
        await reg.closeAll();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('CreditsService', () => {
  it('reserves nothing and charges nothing with billing off, but still prices usage', async () => {
    const t = freshTenant();
    const credits = new CreditsService(billing(false), store, new PriceTable());
    expect(await credits.reserveTurn(t, { sessionId: 's', turnId: 'x' })).toBeUndefined();
    await credits.settleTurn(t, undefined, 500);
    await credits.releaseTurn(t, undefined);
    expect(await credits.balance(t)).toEqual({
      balance: 0,
      reserved: 0,
      available: 0,
      unit: 'micro-credits',
      billingEnabled: false,
    });
    expect(
      credits.price({
        model: 'sim-echo-1',
        inputTokens: 2,
        outputTokens: 1,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
      }),
    ).toBe(2 * 3 + 15);
  });

  it('reserves TURN_RESERVATION_CREDITS per turn and recovery releases only what this process does not hold', async () => {
    const t = freshTenant();
    await store.grant(t, 10 * R, {});
    // A reservation left open by a previous process.
    await store.reserve(t, { id: 'orphan', amount: 2 * R, sessionId: 's0', turnId: 'dead-turn' });
    const credits = new CreditsService(billing(true, 2 * R), store, new PriceTable());
    const mine = await credits.reserveTurn(t, { sessionId: 's1', turnId: 'live-turn', actorUserId: 'u' });
    expect(mine).toEqual(expect.any(String));
    expect((await credits.balance(t)).reserved).toBe(4 * R);

    expect(await credits.recover(t)).toBe(1);
    expect((await store.openReservations(t)).map((r) => r.id)).toEqual([mine]);
    const [release] = (await store.ledger(t, 1)).entries;
    expect(release).toMatchObject({ kind: 'release', reservationId: 'orphan', turnId: 'dead-turn' });
    expect(await credits.recover(t)).toBe(0);

    await credits.settleTurn(t, mine, 777);
    expect(credits.liveReservations).toBe(0);
    expect(await credits.balance(t)).toMatchObject({
      balance: 10 * R - 777,
      reserved: 0,
      available: 10 * R - 777,
    });
  });

  it('forgets a reservation that failed', async () => {
    const t = freshTenant();
    const credits = new CreditsService(billing(true), store, new PriceTable());
    await expect(credits.reserveTurn(t, { sessionId: 's', turnId: 'x' })).rejects.toMatchObject({
      code: 'INSUFFICIENT_CREDITS',
    });
    expect(credits.liveReservations).toBe(0);
  });
});
