import { Injectable } from '@nestjs/common';
import type { TenantId } from '@app/common';
import {
  RegistryCreditRepository,
  type CreditBook,
  type CreditLedgerRow,
  type CreditRepository,
  type CreditReservationRow,
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

/**
 * The credit operations over a CreditRepository, whatever the database: each mutation is one
 * transaction that first takes the tenant's account row (`CreditBook.takeAccount`), so the operations
 * of one tenant are serialised — by the registry's write queue on SQLite, by a row lock on PostgreSQL —
 * and then updates it with a compare-and-set on its previous values as a second guard. Subclasses say
 * where the repository is.
 */
export abstract class EntityCreditStore extends CreditStore {
  protected abstract readonly credits: CreditRepository;

  account(tenantId: TenantId): Promise<CreditAccount> {
    return this.credits.read(tenantId, async (book) => {
      const row = await book.findAccount(tenantId);
      return row
        ? { balance: row.balance, reserved: row.reserved, updatedAt: row.updatedAt }
        : { balance: 0, reserved: 0, updatedAt: null };
    });
  }

  ledger(tenantId: TenantId, limit: number, before?: number): Promise<LedgerPage> {
    return this.credits.read(tenantId, async (book) => {
      const { rows, more } = await book.ledgerPage(tenantId, limit, before);
      const entries = rows.map(toEntry);
      return more ? { entries, nextBefore: entries[entries.length - 1].id } : { entries };
    });
  }

  grant(tenantId: TenantId, amount: number, actor: Actor): Promise<LedgerEntry> {
    return this.credits.transaction(tenantId, async (book, now) => {
      const after = await mutate(book, tenantId, now, (a) => applyGrant(a, amount));
      return toEntry(await book.appendLedger(tenantId, now, after, { kind: 'grant', amount, ...actor }));
    });
  }

  adjust(tenantId: TenantId, delta: number, actor: Actor): Promise<LedgerEntry> {
    return this.credits.transaction(tenantId, async (book, now) => {
      const after = await mutate(book, tenantId, now, (a) => applyAdjust(a, delta));
      return toEntry(
        await book.appendLedger(tenantId, now, after, { kind: 'adjust', amount: delta, ...actor }),
      );
    });
  }

  reserve(tenantId: TenantId, request: ReserveRequest): Promise<Reservation> {
    return this.credits.transaction(tenantId, async (book, now) => {
      const after = await mutate(book, tenantId, now, (a) => applyReserve(a, request.amount));
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
      await book.insertReservation(row);
      await book.appendLedger(tenantId, now, after, {
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
    return this.credits.transaction(tenantId, async (book, now) => {
      await book.takeAccount(tenantId, now);
      const res = await book.findReservation(tenantId, reservationId);
      if (!res || res.status === 'settled') return null;
      const held = res.status === 'open' ? res.amount : 0;
      if (res.status === 'open') await book.closeReservation(res, 'settled', now);
      const after = await mutate(book, tenantId, now, (a) => applySettle(a, held, cost));
      return toEntry(
        await book.appendLedger(tenantId, now, after, {
          kind: 'settle',
          amount: cost,
          sessionId: res.sessionId,
          turnId: res.turnId,
          reservationId: res.id,
        }),
      );
    });
  }

  release(tenantId: TenantId, reservationId: string, note?: string): Promise<LedgerEntry | null> {
    return this.credits.transaction(tenantId, async (book, now) => {
      await book.takeAccount(tenantId, now);
      const res = await book.findReservation(tenantId, reservationId);
      if (!res || res.status !== 'open') return null;
      await book.closeReservation(res, 'released', now);
      const after = await mutate(book, tenantId, now, (a) => applyRelease(a, res.amount));
      return toEntry(
        await book.appendLedger(tenantId, now, after, {
          kind: 'release',
          amount: res.amount,
          sessionId: res.sessionId,
          turnId: res.turnId,
          reservationId: res.id,
          note,
        }),
      );
    });
  }

  openReservations(tenantId: TenantId): Promise<Reservation[]> {
    return this.credits.read(tenantId, async (book) =>
      (await book.openReservations(tenantId)).map(toReservation),
    );
  }
}

/** Takes the account, applies a rule, and writes it back if nobody changed it meanwhile. */
async function mutate(
  book: CreditBook,
  tenantId: TenantId,
  now: number,
  rule: (a: AccountState) => AccountState,
): Promise<AccountState> {
  const row = await book.takeAccount(tenantId, now);
  const after = rule({ balance: row.balance, reserved: row.reserved });
  await book.setAccount(tenantId, row, after, now);
  return after;
}

/** Credits in the tenant's registry.db (the embedded default), through RegistryCreditRepository. */
@Injectable()
export class TypeOrmCreditStore extends EntityCreditStore {
  constructor(protected readonly credits: RegistryCreditRepository) {
    super();
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
