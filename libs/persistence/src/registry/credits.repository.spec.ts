import { asTenantId } from '@app/common';
import { RegistryCreditRepository } from './credits.repository';
import { useTempRegistry } from './temp-registry.spec-helper';

const temp = useTempRegistry('credits-repo-', (registry) => new RegistryCreditRepository(registry));

describe('RegistryCreditRepository and its CreditBook', () => {
  const t = asTenantId('credits-co');

  it('creates an empty account when it is first taken, inside the transaction', async () => {
    expect(await temp.repo.read(t, (b) => b.findAccount(t))).toBeNull();
    const taken = await temp.repo.transaction(t, (b, now) => b.takeAccount(t, now));
    expect(taken).toMatchObject({ tenantId: t, balance: 0, reserved: 0 });
    expect(await temp.repo.read(t, (b) => b.findAccount(t))).toMatchObject({ balance: 0, reserved: 0 });
  });

  it('sets the account only from the values it was read with', async () => {
    await temp.repo.transaction(t, async (b, now) => {
      const row = await b.takeAccount(t, now);
      await b.setAccount(t, row, { balance: 100, reserved: 0 }, now);
    });
    await expect(
      temp.repo.transaction(t, (b, now) =>
        b.setAccount(t, { balance: 0, reserved: 0 }, { balance: 1, reserved: 0 }, now),
      ),
    ).rejects.toThrow(/changed concurrently/);
    expect(await temp.repo.read(t, (b) => b.findAccount(t))).toMatchObject({ balance: 100 });
  });

  it('rolls the whole transaction back when a step fails', async () => {
    await expect(
      temp.repo.transaction(t, async (b, now) => {
        await b.setAccount(t, { balance: 100, reserved: 0 }, { balance: 50, reserved: 50 }, now);
        await b.appendLedger(t, now, { balance: 50, reserved: 50 }, { kind: 'reserve', amount: 50 });
        throw new Error('later step failed');
      }),
    ).rejects.toThrow('later step failed');
    expect(await temp.repo.read(t, (b) => b.findAccount(t))).toMatchObject({ balance: 100, reserved: 0 });
    expect((await temp.repo.read(t, (b) => b.ledgerPage(t, 10))).rows).toEqual([]);
  });

  it('closes a reservation only from the status it was read in, and lists the open ones', async () => {
    const base = { tenantId: t, sessionId: 's1', turnId: null, amount: 10, closedAt: null };
    await temp.repo.transaction(t, async (b, now) => {
      await b.insertReservation({ ...base, id: 'r1', status: 'open', createdAt: now });
      await b.insertReservation({ ...base, id: 'r2', status: 'open', createdAt: now + 1 });
    });
    expect((await temp.repo.read(t, (b) => b.openReservations(t))).map((r) => r.id)).toEqual(['r1', 'r2']);
    const r1 = (await temp.repo.read(t, (b) => b.findReservation(t, 'r1')))!;
    await temp.repo.transaction(t, (b, now) => b.closeReservation(r1, 'released', now));
    await expect(
      temp.repo.transaction(t, (b, now) => b.closeReservation(r1, 'settled', now)),
    ).rejects.toThrow(/changed concurrently/);
    expect(await temp.repo.read(t, (b) => b.findReservation(t, 'r1'))).toMatchObject({ status: 'released' });
    expect((await temp.repo.read(t, (b) => b.openReservations(t))).map((r) => r.id)).toEqual(['r2']);
    expect(
      await temp.repo.read(asTenantId('elsewhere'), (b) => b.findReservation(asTenantId('elsewhere'), 'r2')),
    ).toBeNull();
  });

  it('pages the ledger newest first', async () => {
    await temp.repo.transaction(t, async (b, now) => {
      for (let i = 1; i <= 3; i++)
        await b.appendLedger(
          t,
          now,
          { balance: i, reserved: 0 },
          { kind: 'grant', amount: 1, note: `n${i}` },
        );
    });
    const first = await temp.repo.read(t, (b) => b.ledgerPage(t, 2));
    expect(first.rows.map((r) => r.note)).toEqual(['n3', 'n2']);
    expect(first.more).toBe(true);
    const rest = await temp.repo.read(t, (b) => b.ledgerPage(t, 2, first.rows[1].id));
    expect(rest.rows.map((r) => r.note)).toEqual(['n1']);
    expect(rest.more).toBe(false);
  });
});
