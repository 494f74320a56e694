import type { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { TenantId } from '@app/common';
import { SHARED_CREDIT_MIGRATIONS } from './migrations/shared-credits-1-initial';
import { CREDIT_ENTITIES } from './registry/credit.entities';
import { CreditBook, type CreditRepository } from './registry/credits.repository';

/** Any 64-bit key, the same in every instance: serialises schema creation and migrations at start. */
const MIGRATION_LOCK_KEY = 7_305_114_906_211_843;

export interface SharedCreditDatabaseOptions {
  url: string;
  schema: string;
  poolMax: number;
  applicationName: string;
}

/**
 * The credit tables in one PostgreSQL database shared by several gateway instances: a connection pool,
 * the schema created and migrated once under an advisory lock (instances starting together never
 * migrate twice), reads on the pool and READ COMMITTED transactions in which the tenant's account row
 * is held with `SELECT … FOR UPDATE`.
 */
export class SharedCreditDatabase implements CreditRepository {
  private constructor(private readonly ds: DataSource) {}

  /** Connects, creates the schema if needed and runs the credit migrations; throws when it cannot. */
  static async open(options: SharedCreditDatabaseOptions, logger: Logger): Promise<SharedCreditDatabase> {
    const ds = new DataSource({
      type: 'postgres',
      url: options.url,
      schema: options.schema,
      applicationName: options.applicationName,
      entities: CREDIT_ENTITIES,
      migrations: SHARED_CREDIT_MIGRATIONS,
      migrationsTableName: 'credit_migrations',
      migrationsRun: false,
      synchronize: false,
      logging: false,
      poolSize: options.poolMax,
      extra: { connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000 },
    });
    await ds.initialize();
    try {
      const lock = ds.createQueryRunner();
      await lock.connect();
      try {
        await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
        await lock.query(`CREATE SCHEMA IF NOT EXISTS "${options.schema}"`);
        const ran = await ds.runMigrations({ transaction: 'all' });
        if (ran.length > 0)
          logger.log(`shared credit database: migrated (${ran.map((m) => m.name).join(', ')})`);
      } finally {
        await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
        await lock.release();
      }
    } catch (err) {
      await ds.destroy().catch(() => undefined);
      throw err;
    }
    return new SharedCreditDatabase(ds);
  }

  read<T>(_tenantId: TenantId, fn: (book: CreditBook) => Promise<T>): Promise<T> {
    return fn(new CreditBook(this.ds.manager, 'row-lock'));
  }

  transaction<T>(_tenantId: TenantId, fn: (book: CreditBook, now: number) => Promise<T>): Promise<T> {
    return this.ds.transaction('READ COMMITTED', (m) => fn(new CreditBook(m, 'row-lock'), Date.now()));
  }

  /** One round trip to the database (health checks). */
  async ping(): Promise<void> {
    await this.ds.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}
