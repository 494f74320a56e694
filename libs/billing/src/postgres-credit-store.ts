import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  CREDIT_ENTITIES,
  CreditBook,
  SHARED_CREDIT_MIGRATIONS,
  type CreditRepository,
} from '@app/persistence';
import type { SharedCreditDatabaseConfig } from './billing.config';
import { CreditStoreUnavailableError } from './credit-store';
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
 * `open()` (or in the background by `connectInBackground()`) and destroyed at shutdown.
 *
 * Until the database has been reached once, every operation fails at once with
 * CreditStoreUnavailableError and starts a new connection attempt (one at a time); the health probe
 * does the same, so the store connects as soon as PostgreSQL answers.
 */
export class PostgresCreditStore extends EntityCreditStore implements OnApplicationShutdown {
  override readonly shared = true;
  private readonly logger = new Logger(PostgresCreditStore.name);
  private ds?: DataSource;
  private connecting?: Promise<DataSource>;
  private closed = false;

  private constructor(
    private readonly config: SharedCreditDatabaseConfig,
    private readonly applicationName: string,
  ) {
    super();
  }

  /** Connects, creates the schema if needed and runs the credit migrations; throws when it cannot. */
  static async open(
    config: SharedCreditDatabaseConfig,
    applicationName = 'diminuendo',
  ): Promise<PostgresCreditStore> {
    const store = new PostgresCreditStore(config, applicationName);
    await store.connect();
    return store;
  }

  /**
   * A store that connects in the background: the gateway starts (and serves everything but credits)
   * while PostgreSQL is unreachable, and the store connects when it answers.
   */
  static async connectInBackground(
    config: SharedCreditDatabaseConfig,
    applicationName = 'diminuendo',
  ): Promise<PostgresCreditStore> {
    const store = new PostgresCreditStore(config, applicationName);
    await store.connect().catch((err: Error) => {
      store.logger.error(
        `shared credit database ${describeDatabase(config)} unreachable at start (${err.message}); ` +
          'turns answer BILLING_UNAVAILABLE until it answers',
      );
    });
    return store;
  }

  /** One connection attempt at a time; resolves with the open DataSource. */
  private connect(): Promise<DataSource> {
    if (this.ds) return Promise.resolve(this.ds);
    this.connecting ??= PostgresCreditStore.initialize(this.config, this.applicationName, this.logger)
      .then(async (ds) => {
        if (this.closed) {
          await ds.destroy().catch(() => undefined);
          throw new CreditStoreUnavailableError();
        }
        this.ds = ds;
        return ds;
      })
      .finally(() => {
        this.connecting = undefined;
      });
    return this.connecting;
  }

  /** The open DataSource, or CreditStoreUnavailableError at once (with a new attempt under way). */
  private source(): DataSource {
    if (this.ds) return this.ds;
    if (!this.closed) void this.connect().catch(() => undefined);
    throw new CreditStoreUnavailableError();
  }

  private static async initialize(
    config: SharedCreditDatabaseConfig,
    applicationName: string,
    logger: Logger,
  ): Promise<DataSource> {
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
    return ds;
  }

  override async probe(): Promise<{ ok: boolean; error?: string }> {
    try {
      await Promise.race([
        this.connect().then((ds) => ds.query('SELECT 1')),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref()),
      ]);
      return { ok: true };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }

  get dataSource(): DataSource {
    return this.source();
  }

  /** Reads and READ COMMITTED transactions on the pool; each transaction holds the tenant's row (`FOR UPDATE`). */
  protected readonly credits: CreditRepository = {
    read: (_tenantId, fn) => this.guard(() => fn(new CreditBook(this.source().manager, 'row-lock'))),
    transaction: (_tenantId, fn) =>
      this.guard(() =>
        this.source().transaction('READ COMMITTED', (m) => fn(new CreditBook(m, 'row-lock'), Date.now())),
      ),
  };

  /** A database that went away mid-operation is CreditStoreUnavailableError, like one never reached. */
  private async guard<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (!isConnectionFailure(err)) throw err;
      this.logger.warn(`shared credit database unreachable: ${(err as Error).message}`);
      throw new CreditStoreUnavailableError();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.connecting?.catch(() => undefined);
    if (this.ds?.isInitialized) await this.ds.destroy();
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
]);

/**
 * The database could not be reached, as opposed to a statement that failed: a network error, a
 * PostgreSQL connection exception (SQLSTATE class 08, or 57P01-57P03: the server is shutting down or
 * starting), or the pool's own "connection terminated" / connect timeout.
 */
export function isConnectionFailure(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const outer = err as { driverError?: unknown };
  const inner = (outer.driverError && typeof outer.driverError === 'object' ? outer.driverError : err) as {
    code?: unknown;
    message?: unknown;
  };
  const code = typeof inner.code === 'string' ? inner.code : '';
  if (NETWORK_CODES.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code)) return true;
  const message = typeof inner.message === 'string' ? inner.message : '';
  return /connection terminated|timeout exceeded when trying to connect|connection error/i.test(message);
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
