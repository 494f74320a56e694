import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';
import { creditAccountTable, creditLedgerTable, creditReservationsTable, text, time } from './credit-tables';

/**
 * API keys, the credit account, the append-only ledger and turn reservations (docs/billing.md,
 * §13). Written with TypeORM's schema builder instead of SQLite DDL; the credit tables are the same
 * definitions the shared PostgreSQL credit database is created from (shared-credits-1-initial.ts).
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
    await q.createTable(creditAccountTable(), true);
    await q.createTable(creditLedgerTable(), true);
    await q.createTable(creditReservationsTable(), true);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('credit_reservations', true);
    await q.dropTable('credit_ledger', true);
    await q.dropTable('credit_account', true);
    await q.dropTable('api_keys', true);
  }
}
