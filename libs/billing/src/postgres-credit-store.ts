import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { TenantId } from '@app/common';
import { CREDIT_ENTITIES, CreditAccountRow, SHARED_CREDIT_MIGRATIONS } from '@app/persistence';
import type { SharedCreditDatabaseConfig } from './billing.config';
import { EntityCreditStore } from './typeorm-credit-store';

/** Any 64-bit key, the same in every instance: serialises schema creation and migrations at start. */
const MIGRATION_LOCK_KEY = 7_305_114_906_211_843;

/**
 * Credits in one PostgreSQL database shared by several gateway instances (BILLING_DATABASE_URL),
 * keyed by `tenant_id`. Each mutation is a READ COMMITTED transaction that first takes the tenant's
 * account row with `SELECT … FOR UPDATE`: every other instance's operation on that tenant waits
 * until this one commits and then reads the committed balance, so `balance − reserved ≥ amount` is
 * checked against the truth and concurrent reservations never overspend. The compare-and-set update
 * of the base class then cannot lose (the row is held). One pooled DataSource per process, created by
 * `open()` and destroyed at shutdown.
 */
export class PostgresCreditStore extends EntityCreditStore implements OnApplicationShutdown {
  override readonly shared = true;

  private constructor(private readonly ds: DataSource) {
    super();
  }

  /** Connects, creates the schema if needed and runs the credit migrations under an advisory lock. */
  static async open(
    config: SharedCreditDatabaseConfig,
    applicationName = 'diminuendo',
  ): Promise<PostgresCreditStore> {
    const logger = new Logger(PostgresCreditStore.name);
    const ds = new DataSource({
      type: 'postgres',
      url: config.url,
      schema: config.schema,
      applicationName,
      entities: CREDIT_ENTITIES,
      migrations: SHARED_CREDIT_MIGRATIONS,
      migrationsTableName: 'credit_migrations',
      migrationsRun: false,
      synchronize: false,
      logging: false,
      poolSize: config.poolMax,
      extra: { connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000 },
    });
    await ds.initialize();
    try {
      const lock = ds.createQueryRunner();
      await lock.connect();
      try {
        await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
        await lock.query(`CREATE SCHEMA IF NOT EXISTS "${config.schema}"`);
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
    logger.log(`credits are kept in the shared PostgreSQL database ${describeDatabase(config)}`);
    return new PostgresCreditStore(ds);
  }

  override async probe(): Promise<{ ok: boolean; error?: string }> {
    try {
      await Promise.race([
        this.ds.query('SELECT 1'),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref()),
      ]);
      return { ok: true };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }

  get dataSource(): DataSource {
    return this.ds;
  }

  protected read<T>(_tenantId: TenantId, fn: (m: EntityManager) => Promise<T>): Promise<T> {
    return fn(this.ds.manager);
  }

  protected tx<T>(_tenantId: TenantId, fn: (m: EntityManager, now: number) => Promise<T>): Promise<T> {
    return this.ds.transaction('READ COMMITTED', (m) => fn(m, Date.now()));
  }

  /** `SELECT … FOR UPDATE`; a missing account is inserted (ON CONFLICT DO NOTHING, so two first writers agree) and locked. */
  protected async lockAccount(m: EntityManager, tenantId: string, now: number): Promise<CreditAccountRow> {
    const locked = () =>
      m
        .getRepository(CreditAccountRow)
        .createQueryBuilder('a')
        .setLock('pessimistic_write')
        .where('a.tenantId = :tenantId', { tenantId })
        .getOne();
    const row = await locked();
    if (row) return row;
    await m
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

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}

/** host/database/schema without user or password, for logs. */
export function describeDatabase(config: SharedCreditDatabaseConfig): string {
  try {
    const u = new URL(config.url);
    return `${u.host}${u.pathname} (schema ${config.schema})`;
  } catch {
    return `(unparseable url, schema ${config.schema})`;
  }
}
