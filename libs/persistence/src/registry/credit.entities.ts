import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumber } from './bigint.transformer';

/*
 * Credits of a tenant (docs/billing.md), amounts in integer micro-credits, times in unix ms.
 * Every table carries `tenant_id`: redundant inside one tenant's registry.db, but it lets the same entities
 * and the same store queries run unchanged on a database shared by several gateway instances later.
 */

export const LEDGER_KINDS = ['grant', 'reserve', 'settle', 'release', 'adjust'] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

export const RESERVATION_STATUSES = ['open', 'settled', 'released'] as const;
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number];

/** The tenant's balance and the part of it held by open reservations. */
@Entity({ name: 'credit_account' })
export class CreditAccountRow {
  @PrimaryColumn('varchar', { name: 'tenant_id', length: 128 }) tenantId!: string;
  @Column('bigint', { default: 0, transformer: bigintNumber }) balance!: number;
  @Column('bigint', { default: 0, transformer: bigintNumber }) reserved!: number;
  @Column('bigint', { name: 'updated_at', transformer: bigintNumber }) updatedAt!: number;
}

/** Append-only: one row per credit operation, with the account as it stood afterwards. */
@Entity({ name: 'credit_ledger' })
@Index('idx_ledger_turn', ['turnId'])
@Index('idx_ledger_created', ['createdAt'])
@Index('idx_ledger_reservation', ['reservationId'])
export class CreditLedgerRow {
  @PrimaryGeneratedColumn('increment', { type: 'integer' }) id!: number;
  @Column('varchar', { name: 'tenant_id', length: 128 }) tenantId!: string;
  @Column('varchar', { length: 16 }) kind!: LedgerKind;
  /** Magnitude of the operation (see docs/billing.md); only `adjust` is signed. */
  @Column('bigint', { transformer: bigintNumber }) amount!: number;
  @Column('varchar', { name: 'session_id', length: 128, nullable: true }) sessionId!: string | null;
  @Column('varchar', { name: 'turn_id', length: 128, nullable: true }) turnId!: string | null;
  @Column('varchar', { name: 'reservation_id', length: 64, nullable: true }) reservationId!: string | null;
  @Column('varchar', { name: 'actor_user_id', length: 256, nullable: true }) actorUserId!: string | null;
  @Column('varchar', { length: 500, nullable: true }) note!: string | null;
  @Column('bigint', { name: 'balance_after', transformer: bigintNumber }) balanceAfter!: number;
  @Column('bigint', { name: 'reserved_after', transformer: bigintNumber }) reservedAfter!: number;
  @Column('bigint', { name: 'created_at', transformer: bigintNumber }) createdAt!: number;
}

/** Credits held for one turn until it is settled or released; recovery releases every open one. */
@Entity({ name: 'credit_reservations' })
@Index('idx_reservations_status', ['tenantId', 'status'])
export class CreditReservationRow {
  @PrimaryColumn('varchar', { length: 64 }) id!: string;
  @Column('varchar', { name: 'tenant_id', length: 128 }) tenantId!: string;
  @Column('varchar', { name: 'session_id', length: 128, nullable: true }) sessionId!: string | null;
  @Column('varchar', { name: 'turn_id', length: 128, nullable: true }) turnId!: string | null;
  @Column('bigint', { transformer: bigintNumber }) amount!: number;
  @Column('varchar', { length: 16, default: 'open' }) status!: ReservationStatus;
  @Column('bigint', { name: 'created_at', transformer: bigintNumber }) createdAt!: number;
  @Column('bigint', { name: 'closed_at', nullable: true, transformer: bigintNumber }) closedAt!:
    number | null;
}

export const CREDIT_ENTITIES = [CreditAccountRow, CreditLedgerRow, CreditReservationRow];
