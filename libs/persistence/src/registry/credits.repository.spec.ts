import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { asTenantId } from '@app/common';
import { RegistryCreditRepository } from './credits.repository';
import { TenantRegistry } from './tenant-registry.service';

let dataDir: string;
let registry: TenantRegistry;
let credits: RegistryCreditRepository;

beforeAll(() => {
  Logger.overrideLogger(false);
  dataDir = mkdtempSync(join(tmpdir(), 'credits-repo-'));
  registry = new TenantRegistry({
    dataDir,
    writeBatchMs: 50,
    writeBatchSize: 100,
    registryCache: 4,
    sessionCache: 2,
  });
  credits = new RegistryCreditRepository(registry);
});

afterAll(async () => {
  await registry.closeAll();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('RegistryCreditRepository and its CreditBook', () => {
  const t = asTenantId('credits-co');

  it('creates an empty account when it is first taken, inside the transaction', async () => {
    expect(await credits.read(t, (b) => b.findAccount(t))).toBeNull();
    const taken = await credits.transaction(t, (b, now) => b.takeAccount(t, now));
    expect(taken).toMatchObject({ tenantId: t, balance: 0, reserved: 0 });
    expect(await credits.read(t, (b) => b.findAccount(t))).toMatchObject({ balance: 0, reserved: 0 });
  });

  it('sets the account only from the values it was read with', async () => {
    await credits.transaction(t, async (b, now) => {
      const row = await b.takeAccount(t, now);
      await b.setAccount(t, row, { balance: 100, reserved: 0 }, now);
    });
    await expect(
      credits.transaction(t, (b, now) =>
        b.setAccount(t, { balance: 0, reserved: 0 }, { balance: 1, reserved: 0 }, now),
      ),
    ).rejects.toThrow(/changed concurrently/);
    expect(await credits.read(t, (b) => b.findAccount(t))).toMatchObject({ balance: 100 });
  });

  it('rolls the whole transaction back when a step fails', async () => {
    await expect(
      credits.transaction(t, async (b, now) => {
        await b.setAccount(t, { balance: 100, reserved: 0 }, { balance: 50, reserved: 50 }, now);
        await b.appendLedger(t, now, { balance: 50, reserved: 50 }, { kind: 'reserve', amount: 50 });
        throw new Error('later step failed');
      }),
    ).rejects.toThrow('later step failed');
    expect(await credits.read(t, (b) => b.findAccount(t))).toMatchObject({ balance: 100, reserved: 0 });
    expect((await credits.read(t, (b) => b.ledgerPage(t, 10))).rows).toEqual([]);
  });

  it('closes a reservation only from the status it was read in, and lists the open ones', async () => {
    const base = { tenantId: t, sessionId: 's1', turnId: null, amount: 10, closedAt: null };
    await credits.transaction(t, async (b, now) => {
      await b.insertReservation({ ...base, id: 'r1', status: 'open', createdAt: now });
      await b.insertReservation({ ...base, id: 'r2', status: 'open', createdAt: now + 1 });
    });
    expect((await credits.read(t, (b) => b.openReservations(t))).map((r) => r.id)).toEqual(['r1', 'r2']);
    const r1 = (await credits.read(t, (b) => b.findReservation(t, 'r1')))!;
    await credits.transaction(t, (b, now) => b.closeReservation(r1, 'released', now));
    await expect(credits.transaction(t, (b, now) => b.closeReservation(r1, 'settled', now))).rejects.toThrow(
      /changed concurrently/,
    );
    expect(await credits.read(t, (b) => b.findReservation(t, 'r1'))).toMatchObject({ status: 'released' });
    expect((await credits.read(t, (b) => b.openReservations(t))).map((r) => r.id)).toEqual(['r2']);
    expect(
      await credits.read(asTenantId('elsewhere'), (b) => b.findReservation(asTenantId('elsewhere'), 'r2')),
    ).toBeNull();
  });

  it('pages the ledger newest first', async () => {
    await credits.transaction(t, async (b, now) => {
      for (let i = 1; i <= 3; i++)
        await b.appendLedger(
          t,
          now,
          { balance: i, reserved: 0 },
          { kind: 'grant', amount: 1, note: `n${i}` },
        );
    });
    const first = await credits.read(t, (b) => b.ledgerPage(t, 2));
    expect(first.rows.map((r) => r.note)).toEqual(['n3', 'n2']);
    expect(first.more).toBe(true);
    const rest = await credits.read(t, (b) => b.ledgerPage(t, 2, first.rows[1].id));
    expect(rest.rows.map((r) => r.note)).toEqual(['n1']);
    expect(rest.more).toBe(false);
  });
});
