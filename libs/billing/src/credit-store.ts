import type { TenantId } from '@app/common';
import type { LedgerKind, ReservationStatus } from '@app/persistence';

/**
 * The store cannot be reached (a shared database that is down). Not a user error: the turn path turns
 * it into BILLING_UNAVAILABLE; other operations fail like any internal error.
 */
export class CreditStoreUnavailableError extends Error {
  constructor() {
    super('the credit store is unreachable');
    this.name = 'CreditStoreUnavailableError';
  }
}

export interface CreditAccount {
  balance: number;
  reserved: number;
  updatedAt: number | null;
}

export interface LedgerEntry {
  id: number;
  kind: LedgerKind;
  amount: number;
  balanceAfter: number;
  reservedAfter: number;
  sessionId?: string;
  turnId?: string;
  reservationId?: string;
  actorUserId?: string;
  note?: string;
  createdAt: number;
}

export interface Reservation {
  id: string;
  sessionId?: string;
  turnId?: string;
  amount: number;
  status: ReservationStatus;
  createdAt: number;
  closedAt?: number;
}

export interface ReserveRequest {
  /** Chosen by the caller, so it is known before the reservation exists. */
  id: string;
  amount: number;
  sessionId?: string;
  turnId?: string;
  actorUserId?: string;
}

export interface Actor {
  actorUserId?: string;
  note?: string;
}

export interface LedgerPage {
  entries: LedgerEntry[];
  /** Pass as `before` to get the next (older) page; absent on the last page. */
  nextBefore?: number;
}

/**
 * Where a tenant's credits live. Each operation is atomic (one transaction) and the operations of one
 * tenant never interleave, so concurrent reservations cannot overspend. The tenant's registry.db
 * (`TypeOrmCreditStore`, the default) or a PostgreSQL database shared by several gateway instances
 * (`PostgresCreditStore`, BILLING_DATABASE_URL).
 */
export abstract class CreditStore {
  /** Other gateway processes write the same accounts: recovery must spare the reservations they hold. */
  readonly shared: boolean = false;

  abstract account(tenantId: TenantId): Promise<CreditAccount>;
  /** Newest first; `before` is a ledger id. */
  abstract ledger(tenantId: TenantId, limit: number, before?: number): Promise<LedgerPage>;
  abstract grant(tenantId: TenantId, amount: number, actor: Actor): Promise<LedgerEntry>;
  abstract adjust(tenantId: TenantId, delta: number, actor: Actor): Promise<LedgerEntry>;
  /** Throws InsufficientCreditsError when balance − reserved < amount. */
  abstract reserve(tenantId: TenantId, request: ReserveRequest): Promise<Reservation>;
  /**
   * Charges `cost` and closes the reservation. Idempotent: a reservation settled already is left alone
   * (null); one released already is still charged (the usage happened) without freeing anything twice.
   */
  abstract settle(tenantId: TenantId, reservationId: string, cost: number): Promise<LedgerEntry | null>;
  /** Frees an open reservation; null when it was not open. */
  abstract release(tenantId: TenantId, reservationId: string, note?: string): Promise<LedgerEntry | null>;
  abstract openReservations(tenantId: TenantId): Promise<Reservation[]>;
  /** Reachability of a shared database for health checks; null when credits live in the registries. */
  probe(): Promise<{ ok: boolean; error?: string } | null> {
    return Promise.resolve(null);
  }
}
