import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { TenantId } from '@app/common';
import { CreditAccountRow, CreditLedgerRow, CreditReservationRow, type LedgerKind } from './credit.entities';
import { TenantRegistry } from './tenant-registry.service';

/** A balance and the part of it held by open reservations. */
export interface CreditBalance {
  balance: number;
  reserved: number;
}

/** What a ledger entry records besides the account as it stands afterwards. */
export interface LedgerFields {
  kind: LedgerKind;
  amount: number;
  sessionId?: string | null;
  turnId?: string | null;
  reservationId?: string | null;
  actorUserId?: string | null;
  note?: string | null;
}

/**
 * How the tenant's account row is held for the rest of a transaction: `queued` where every operation
 * of the database already runs one at a time (a tenant's registry.db on its write queue), `row-lock`
 * where other writers run concurrently (`SELECT … FOR UPDATE` on a shared PostgreSQL database).
 */
export type AccountLocking = 'queued' | 'row-lock';

/**
 * The credit tables inside one transaction (or one read): the steps the credit operations are made
 * of. Every write is guarded: the account is updated only if it still holds the values it was read
 * with, a reservation closed only if it is still in the status it was read in.
 */
export class CreditBook {
  constructor(
    private readonly m: EntityManager,
    private readonly locking: AccountLocking,
  ) {}

  findAccount(tenantId: TenantId): Promise<CreditAccountRow | null> {
    return this.m.getRepository(CreditAccountRow).findOneBy({ tenantId });
  }

  /** The tenant's account row (created empty if missing), held against other writers until the transaction ends. */
  takeAccount(tenantId: TenantId, now: number): Promise<CreditAccountRow> {
    return this.locking === 'row-lock' ? this.lockRow(tenantId, now) : this.findOrCreate(tenantId, now);
  }

  /** Writes the account's new balance, refusing (nothing written) if it no longer holds `before`. */
  async setAccount(
    tenantId: TenantId,
    before: CreditBalance,
    after: CreditBalance,
    now: number,
  ): Promise<void> {
    const result = await this.m
      .createQueryBuilder()
      .update(CreditAccountRow)
      .set({ balance: after.balance, reserved: after.reserved, updatedAt: now })
      .where({ tenantId, balance: before.balance, reserved: before.reserved })
      .execute();
    if (result.affected !== 1)
      throw new Error('the credit account changed concurrently; nothing was written');
  }

  findReservation(tenantId: TenantId, id: string): Promise<CreditReservationRow | null> {
    return this.m.getRepository(CreditReservationRow).findOneBy({ tenantId, id });
  }

  async insertReservation(row: CreditReservationRow): Promise<void> {
    await this.m.getRepository(CreditReservationRow).insert(row);
  }

  /** Closes an open (or released) reservation, refusing if its status changed since it was read. */
  async closeReservation(
    res: CreditReservationRow,
    status: 'settled' | 'released',
    now: number,
  ): Promise<void> {
    const result = await this.m
      .createQueryBuilder()
      .update(CreditReservationRow)
      .set({ status, closedAt: now })
      .where({ id: res.id, status: res.status })
      .execute();
    if (result.affected !== 1) throw new Error('the reservation changed concurrently; nothing was written');
  }

  /** Appends a ledger entry with the account as it stands after the operation. */
  async appendLedger(
    tenantId: TenantId,
    now: number,
    after: CreditBalance,
    fields: LedgerFields,
  ): Promise<CreditLedgerRow> {
    const repo = this.m.getRepository(CreditLedgerRow);
    const row = repo.create({
      tenantId,
      kind: fields.kind,
      amount: fields.amount,
      sessionId: fields.sessionId ?? null,
      turnId: fields.turnId ?? null,
      reservationId: fields.reservationId ?? null,
      actorUserId: fields.actorUserId ?? null,
      note: fields.note ?? null,
      balanceAfter: after.balance,
      reservedAfter: after.reserved,
      createdAt: now,
    });
    await repo.insert(row);
    return row;
  }

  /** Newest first, entries with an id below `before`; at most `limit`, and whether older ones exist. */
  async ledgerPage(
    tenantId: TenantId,
    limit: number,
    before?: number,
  ): Promise<{ rows: CreditLedgerRow[]; more: boolean }> {
    const qb = this.m
      .getRepository(CreditLedgerRow)
      .createQueryBuilder('l')
      .where('l.tenantId = :tenantId', { tenantId });
    if (before !== undefined) qb.andWhere('l.id < :before', { before });
    const rows = await qb
      .orderBy('l.id', 'DESC')
      .limit(limit + 1)
      .getMany();
    const more = rows.length > limit;
    return { rows: more ? rows.slice(0, limit) : rows, more };
  }

  /** Oldest first. */
  openReservations(tenantId: TenantId): Promise<CreditReservationRow[]> {
    return this.m
      .getRepository(CreditReservationRow)
      .find({ where: { tenantId, status: 'open' }, order: { createdAt: 'ASC' } });
  }

  private async findOrCreate(tenantId: TenantId, now: number): Promise<CreditAccountRow> {
    const repo = this.m.getRepository(CreditAccountRow);
    const row = await repo.findOneBy({ tenantId });
    if (row) return row;
    const created = { tenantId, balance: 0, reserved: 0, updatedAt: now };
    await repo.insert(created);
    return created;
  }

  /** `SELECT … FOR UPDATE`; a missing account is inserted (ON CONFLICT DO NOTHING, so two first writers agree) and locked. */
  private async lockRow(tenantId: TenantId, now: number): Promise<CreditAccountRow> {
    const locked = () =>
      this.m
        .getRepository(CreditAccountRow)
        .createQueryBuilder('a')
        .setLock('pessimistic_write')
        .where('a.tenantId = :tenantId', { tenantId })
        .getOne();
    const row = await locked();
    if (row) return row;
    await this.m
      .createQueryBuilder()
      .insert()
      .into(CreditAccountRow)
      .values({ tenantId, balance: 0, reserved: 0, updatedAt: now })
      .orIgnore()
      .execute();
    const created = await locked();
    if (!created) throw new Error(`credit account of ${tenantId} could not be created`);
    return created;
  }
}

/** Where the credit tables are: each call runs on a CreditBook, `transaction` as one transaction. */
export interface CreditRepository {
  read<T>(tenantId: TenantId, fn: (book: CreditBook) => Promise<T>): Promise<T>;
  transaction<T>(tenantId: TenantId, fn: (book: CreditBook, now: number) => Promise<T>): Promise<T>;
}

/**
 * Credits in the tenant's registry.db. Every call, reads included, is queued on the registry's write
 * queue, which serialises the work on one tenant database: reads never observe a transaction half
 * done and no row lock is needed.
 */
@Injectable()
export class RegistryCreditRepository implements CreditRepository {
  constructor(private readonly registry: TenantRegistry) {}

  read<T>(tenantId: TenantId, fn: (book: CreditBook) => Promise<T>): Promise<T> {
    return this.registry.write(tenantId, (ds) => fn(new CreditBook(ds.manager, 'queued')));
  }

  transaction<T>(tenantId: TenantId, fn: (book: CreditBook, now: number) => Promise<T>): Promise<T> {
    return this.registry.write(tenantId, (ds) =>
      ds.transaction((m) => fn(new CreditBook(m, 'queued'), Date.now())),
    );
  }
}
