import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { TenantId } from '@app/common';
import {
  CreditAccountRow,
  CreditLedgerRow,
  CreditReservationRow,
  TenantRegistry,
  type LedgerKind,
} from '@app/persistence';
import {
  CreditStore,
  type Actor,
  type CreditAccount,
  type LedgerEntry,
  type LedgerPage,
  type Reservation,
  type ReserveRequest,
} from './credit-store';
import {
  applyAdjust,
  applyGrant,
  applyRelease,
  applyReserve,
  applySettle,
  type AccountState,
} from './ledger-math';

interface LedgerFields {
  kind: LedgerKind;
  amount: number;
  sessionId?: string | null;
  turnId?: string | null;
  reservationId?: string | null;
  actorUserId?: string | null;
  note?: string | null;
}

/**
 * The credit operations over TypeORM entities, whatever the database: each mutation is one
 * transaction that first takes the tenant's account row (`lockAccount`), so the operations of one
 * tenant are serialised — by the registry's write queue on SQLite, by a row lock on PostgreSQL — and
 * then updates it with a compare-and-set on its previous values as a second guard. Subclasses say
 * how a transaction runs and how the account row is taken.
 */
export abstract class EntityCreditStore extends CreditStore {
  /** Runs a read (no transaction needed: each is a single statement). */
  protected abstract read<T>(tenantId: TenantId, fn: (m: EntityManager) => Promise<T>): Promise<T>;
  /** Runs `fn` in one transaction. */
  protected abstract tx<T>(tenantId: TenantId, fn: (m: EntityManager, now: number) => Promise<T>): Promise<T>;
  /** The tenant's account row (created empty if missing), held against other writers until the transaction ends. */
  protected abstract lockAccount(m: EntityManager, tenantId: string, now: number): Promise<CreditAccountRow>;

  account(tenantId: TenantId): Promise<CreditAccount> {
    return this.read(tenantId, async (m) => {
      const row = await m.getRepository(CreditAccountRow).findOneBy({ tenantId });
      return row
        ? { balance: row.balance, reserved: row.reserved, updatedAt: row.updatedAt }
        : { balance: 0, reserved: 0, updatedAt: null };
    });
  }

  ledger(tenantId: TenantId, limit: number, before?: number): Promise<LedgerPage> {
    return this.read(tenantId, async (m) => {
      const qb = m
        .getRepository(CreditLedgerRow)
        .createQueryBuilder('l')
        .where('l.tenantId = :tenantId', { tenantId });
      if (before !== undefined) qb.andWhere('l.id < :before', { before });
      const rows = await qb
        .orderBy('l.id', 'DESC')
        .limit(limit + 1)
        .getMany();
      const more = rows.length > limit;
      const entries = (more ? rows.slice(0, limit) : rows).map(toEntry);
      return more ? { entries, nextBefore: entries[entries.length - 1].id } : { entries };
    });
  }

  grant(tenantId: TenantId, amount: number, actor: Actor): Promise<LedgerEntry> {
    return this.tx(tenantId, async (m, now) => {
      const after = await this.mutate(m, tenantId, now, (a) => applyGrant(a, amount));
      return this.append(m, tenantId, now, after, { kind: 'grant', amount, ...actor });
    });
  }

  adjust(tenantId: TenantId, delta: number, actor: Actor): Promise<LedgerEntry> {
    return this.tx(tenantId, async (m, now) => {
      const after = await this.mutate(m, tenantId, now, (a) => applyAdjust(a, delta));
      return this.append(m, tenantId, now, after, { kind: 'adjust', amount: delta, ...actor });
    });
  }

  reserve(tenantId: TenantId, request: ReserveRequest): Promise<Reservation> {
    return this.tx(tenantId, async (m, now) => {
      const after = await this.mutate(m, tenantId, now, (a) => applyReserve(a, request.amount));
      const row: CreditReservationRow = {
        id: request.id,
        tenantId,
        sessionId: request.sessionId ?? null,
        turnId: request.turnId ?? null,
        amount: request.amount,
        status: 'open',
        createdAt: now,
        closedAt: null,
      };
      await m.getRepository(CreditReservationRow).insert(row);
      await this.append(m, tenantId, now, after, {
        kind: 'reserve',
        amount: request.amount,
        sessionId: row.sessionId,
        turnId: row.turnId,
        reservationId: row.id,
        actorUserId: request.actorUserId,
      });
      return toReservation(row);
    });
  }

  settle(tenantId: TenantId, reservationId: string, cost: number): Promise<LedgerEntry | null> {
    return this.tx(tenantId, async (m, now) => {
      await this.lockAccount(m, tenantId, now);
      const res = await m.getRepository(CreditReservationRow).findOneBy({ tenantId, id: reservationId });
      if (!res || res.status === 'settled') return null;
      const held = res.status === 'open' ? res.amount : 0;
      if (res.status === 'open') await this.closeReservation(m, res, 'settled', now);
      const after = await this.mutate(m, tenantId, now, (a) => applySettle(a, held, cost));
      return this.append(m, tenantId, now, after, {
        kind: 'settle',
        amount: cost,
        sessionId: res.sessionId,
        turnId: res.turnId,
        reservationId: res.id,
      });
    });
  }

  release(tenantId: TenantId, reservationId: string, note?: string): Promise<LedgerEntry | null> {
    return this.tx(tenantId, async (m, now) => {
      await this.lockAccount(m, tenantId, now);
      const res = await m.getRepository(CreditReservationRow).findOneBy({ tenantId, id: reservationId });
      if (!res || res.status !== 'open') return null;
      await this.closeReservation(m, res, 'released', now);
      const after = await this.mutate(m, tenantId, now, (a) => applyRelease(a, res.amount));
      return this.append(m, tenantId, now, after, {
        kind: 'release',
        amount: res.amount,
        sessionId: res.sessionId,
        turnId: res.turnId,
        reservationId: res.id,
        note,
      });
    });
  }

  openReservations(tenantId: TenantId): Promise<Reservation[]> {
    return this.read(tenantId, async (m) => {
      const rows = await m
        .getRepository(CreditReservationRow)
        .find({ where: { tenantId, status: 'open' }, order: { createdAt: 'ASC' } });
      return rows.map(toReservation);
    });
  }

  /** Takes the account, applies a rule, and writes it back if nobody changed it meanwhile. */
  private async mutate(
    m: EntityManager,
    tenantId: string,
    now: number,
    rule: (a: AccountState) => AccountState,
  ): Promise<AccountState> {
    const repo = m.getRepository(CreditAccountRow);
    const row = await this.lockAccount(m, tenantId, now);
    const after = rule({ balance: row.balance, reserved: row.reserved });
    const result = await repo
      .createQueryBuilder()
      .update(CreditAccountRow)
      .set({ balance: after.balance, reserved: after.reserved, updatedAt: now })
      .where({ tenantId, balance: row.balance, reserved: row.reserved })
      .execute();
    if (result.affected !== 1)
      throw new Error('the credit account changed concurrently; nothing was written');
    return after;
  }

  private async closeReservation(
    m: EntityManager,
    res: CreditReservationRow,
    status: 'settled' | 'released',
    now: number,
  ): Promise<void> {
    const result = await m
      .getRepository(CreditReservationRow)
      .createQueryBuilder()
      .update(CreditReservationRow)
      .set({ status, closedAt: now })
      .where({ id: res.id, status: res.status })
      .execute();
    if (result.affected !== 1) throw new Error('the reservation changed concurrently; nothing was written');
  }

  private async append(
    m: EntityManager,
    tenantId: string,
    now: number,
    after: AccountState,
    fields: LedgerFields,
  ): Promise<LedgerEntry> {
    const row = m.getRepository(CreditLedgerRow).create({
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
    await m.getRepository(CreditLedgerRow).insert(row);
    return toEntry(row);
  }
}

/**
 * Credits in the tenant's registry.db (the embedded default). Every operation, reads included, is
 * queued on `TenantRegistry.write`, which serialises the work on one tenant database, so reads never
 * observe a transaction half done and no row lock is needed.
 */
@Injectable()
export class TypeOrmCreditStore extends EntityCreditStore {
  constructor(private readonly registry: TenantRegistry) {
    super();
  }

  protected read<T>(tenantId: TenantId, fn: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.registry.write(tenantId, (ds) => fn(ds.manager));
  }

  protected tx<T>(tenantId: TenantId, fn: (m: EntityManager, now: number) => Promise<T>): Promise<T> {
    return this.registry.write(tenantId, (ds) => ds.transaction((m) => fn(m, Date.now())));
  }

  protected async lockAccount(m: EntityManager, tenantId: string, now: number): Promise<CreditAccountRow> {
    const repo = m.getRepository(CreditAccountRow);
    const row = await repo.findOneBy({ tenantId });
    if (row) return row;
    const created = { tenantId, balance: 0, reserved: 0, updatedAt: now };
    await repo.insert(created);
    return created;
  }
}

function toEntry(row: CreditLedgerRow): LedgerEntry {
  return {
    id: Number(row.id),
    kind: row.kind,
    amount: row.amount,
    balanceAfter: row.balanceAfter,
    reservedAfter: row.reservedAfter,
    ...(row.sessionId ? { sessionId: row.sessionId } : {}),
    ...(row.turnId ? { turnId: row.turnId } : {}),
    ...(row.reservationId ? { reservationId: row.reservationId } : {}),
    ...(row.actorUserId ? { actorUserId: row.actorUserId } : {}),
    ...(row.note ? { note: row.note } : {}),
    createdAt: row.createdAt,
  };
}

function toReservation(row: CreditReservationRow): Reservation {
  return {
    id: row.id,
    ...(row.sessionId ? { sessionId: row.sessionId } : {}),
    ...(row.turnId ? { turnId: row.turnId } : {}),
    amount: row.amount,
    status: row.status,
    createdAt: row.createdAt,
    ...(row.closedAt !== null ? { closedAt: row.closedAt } : {}),
  };
}
