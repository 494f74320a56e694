import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { creditAccountTable, creditLedgerTable, creditReservationsTable } from './credit-tables';

/**
 * The credit tables in the database shared by several gateway instances (BILLING_DATABASE_URL): the
 * same tables as a tenant's registry.db (credit-tables.ts), plus an index on (tenant_id, id) since
 * the ledger of many tenants shares one table and is paged per tenant, newest first.
 */
export class SharedCredits1764000000101 implements MigrationInterface {
  name = 'SharedCredits1764000000101';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(creditAccountTable(), true);
    await q.createTable(creditLedgerTable(), true);
    await q.createTable(creditReservationsTable(), true);
    await q.createIndex(
      'credit_ledger',
      new TableIndex({ name: 'idx_ledger_tenant_id', columnNames: ['tenant_id', 'id'] }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('credit_reservations', true);
    await q.dropTable('credit_ledger', true);
    await q.dropTable('credit_account', true);
  }
}

export const SHARED_CREDIT_MIGRATIONS = [SharedCredits1764000000101];
