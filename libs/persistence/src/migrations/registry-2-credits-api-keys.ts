import { Table, type MigrationInterface, type QueryRunner, type TableColumnOptions } from 'typeorm';

const tenant: TableColumnOptions = { name: 'tenant_id', type: 'varchar', length: '128', isNullable: false };
const money = (name: string, extra: Partial<TableColumnOptions> = {}): TableColumnOptions => ({
  name,
  type: 'bigint',
  isNullable: false,
  ...extra,
});
const text = (name: string, length: number, nullable = true): TableColumnOptions => ({
  name,
  type: 'varchar',
  length: String(length),
  isNullable: nullable,
});
const time = (name: string, nullable = false): TableColumnOptions => ({
  name,
  type: 'bigint',
  isNullable: nullable,
});

/**
 * API keys, the credit account, the append-only ledger and turn reservations (architecture.md §12.3,
 * §13). Written with TypeORM's schema builder instead of SQLite DDL so that the same migration creates
 * the same tables on PostgreSQL when credits move to a shared database.
 */
export class RegistryCreditsApiKeys1764000000002 implements MigrationInterface {
  name = 'RegistryCreditsApiKeys1764000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'api_keys',
        columns: [
          { ...text('id', 64, false), isPrimary: true },
          text('key_hash', 64, false),
          text('user_id', 256, false),
          text('role', 32, false),
          text('label', 200),
          time('created_at'),
          time('last_used_at', true),
          time('revoked_at', true),
        ],
        indices: [{ name: 'idx_api_keys_hash', columnNames: ['key_hash'], isUnique: true }],
      }),
      true,
    );
    await q.createTable(
      new Table({
        name: 'credit_account',
        columns: [
          { ...tenant, isPrimary: true },
          money('balance', { default: 0 }),
          money('reserved', { default: 0 }),
          time('updated_at'),
        ],
      }),
      true,
    );
    await q.createTable(
      new Table({
        name: 'credit_ledger',
        columns: [
          {
            name: 'id',
            type: 'integer',
            isPrimary: true,
            isGenerated: true,
            generationStrategy: 'increment',
          },
          tenant,
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
      }),
      true,
    );
    await q.createTable(
      new Table({
        name: 'credit_reservations',
        columns: [
          { ...text('id', 64, false), isPrimary: true },
          tenant,
          text('session_id', 128),
          text('turn_id', 128),
          money('amount'),
          { ...text('status', 16, false), default: "'open'" },
          time('created_at'),
          time('closed_at', true),
        ],
        indices: [{ name: 'idx_reservations_status', columnNames: ['tenant_id', 'status'] }],
      }),
      true,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('credit_reservations', true);
    await q.dropTable('credit_ledger', true);
    await q.dropTable('credit_account', true);
    await q.dropTable('api_keys', true);
  }
}
