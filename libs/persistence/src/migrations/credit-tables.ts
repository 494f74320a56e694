import { Table, type TableColumnOptions } from 'typeorm';

/*
 * The credit tables (docs/billing.md) as TypeORM schema-builder definitions, shared by the
 * tenant registry migration (SQLite) and the shared credit database migration (PostgreSQL), so both
 * hold the same columns, types and indices. No SQLite- or PostgreSQL-only DDL here.
 */

export const tenantColumn: TableColumnOptions = {
  name: 'tenant_id',
  type: 'varchar',
  length: '128',
  isNullable: false,
};
export const money = (name: string, extra: Partial<TableColumnOptions> = {}): TableColumnOptions => ({
  name,
  type: 'bigint',
  isNullable: false,
  ...extra,
});
export const text = (name: string, length: number, nullable = true): TableColumnOptions => ({
  name,
  type: 'varchar',
  length: String(length),
  isNullable: nullable,
});
export const time = (name: string, nullable = false): TableColumnOptions => ({
  name,
  type: 'bigint',
  isNullable: nullable,
});

export function creditAccountTable(): Table {
  return new Table({
    name: 'credit_account',
    columns: [
      { ...tenantColumn, isPrimary: true },
      money('balance', { default: 0 }),
      money('reserved', { default: 0 }),
      time('updated_at'),
    ],
  });
}

export function creditLedgerTable(): Table {
  return new Table({
    name: 'credit_ledger',
    columns: [
      {
        name: 'id',
        type: 'integer',
        isPrimary: true,
        isGenerated: true,
        generationStrategy: 'increment',
      },
      tenantColumn,
      text('kind', 16, false),
      money('amount'),
      text('session_id', 128),
      text('turn_id', 128),
      text('reservation_id', 64),
      text('actor_user_id', 256),
      text('note', 500),
      money('balance_after'),
      money('reserved_after'),
      time('created_at'),
    ],
    indices: [
      { name: 'idx_ledger_turn', columnNames: ['turn_id'] },
      { name: 'idx_ledger_created', columnNames: ['created_at'] },
      { name: 'idx_ledger_reservation', columnNames: ['reservation_id'] },
    ],
  });
}

export function creditReservationsTable(): Table {
  return new Table({
    name: 'credit_reservations',
    columns: [
      { ...text('id', 64, false), isPrimary: true },
      tenantColumn,
      text('session_id', 128),
      text('turn_id', 128),
      money('amount'),
      { ...text('status', 16, false), default: "'open'" },
      time('created_at'),
      time('closed_at', true),
    ],
    indices: [{ name: 'idx_reservations_status', columnNames: ['tenant_id', 'status'] }],
  });
}
