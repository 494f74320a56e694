import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { SharedCreditDatabase, type CreditRepository } from '@app/persistence';
import type { SharedCreditDatabaseConfig } from './billing.config';
import { CreditStoreUnavailableError } from './credit-store';
import { EntityCreditStore } from './typeorm-credit-store';

/**
 * Credits in one PostgreSQL database shared by several gateway instances (BILLING_DATABASE_URL),
 * keyed by `tenant_id`. Each mutation is a READ COMMITTED transaction that first takes the tenant's
 * account row with `SELECT … FOR UPDATE`: every other instance's operation on that tenant waits
 * until this one commits and then reads the committed balance, so `balance − reserved ≥ amount` is
 * checked against the truth and concurrent reservations never overspend. The compare-and-set update
 * of the base class then cannot lose (the row is held). One SharedCreditDatabase (a pool) per process, created by
 * `open()` (or in the background by `connectInBackground()`) and destroyed at shutdown.
 *
 * Until the database has been reached once, every operation fails at once with
 * CreditStoreUnavailableError and starts a new connection attempt (one at a time); the health probe
 * does the same, so the store connects as soon as PostgreSQL answers.
 */
export class PostgresCreditStore extends EntityCreditStore implements OnApplicationShutdown {
  override readonly shared = true;
  private readonly logger = new Logger(PostgresCreditStore.name);
  private db?: SharedCreditDatabase;
  private connecting?: Promise<SharedCreditDatabase>;
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

  /** One connection attempt at a time; resolves with the open database. */
  private connect(): Promise<SharedCreditDatabase> {
    if (this.db) return Promise.resolve(this.db);
    this.connecting ??= SharedCreditDatabase.open(
      { ...this.config, applicationName: this.applicationName },
      this.logger,
    )
      .then(async (db) => {
        if (this.closed) {
          await db.close().catch(() => undefined);
          throw new CreditStoreUnavailableError();
        }
        this.logger.log(
          `credits are kept in the shared PostgreSQL database ${describeDatabase(this.config)}`,
        );
        this.db = db;
        return db;
      })
      .finally(() => {
        this.connecting = undefined;
      });
    return this.connecting;
  }

  /** The open database, or CreditStoreUnavailableError at once (with a new attempt under way). */
  private source(): SharedCreditDatabase {
    if (this.db) return this.db;
    if (!this.closed) void this.connect().catch(() => undefined);
    throw new CreditStoreUnavailableError();
  }

  override async probe(): Promise<{ ok: boolean; error?: string }> {
    try {
      await Promise.race([
        this.connect().then((db) => db.ping()),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref()),
      ]);
      return { ok: true };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }

  /** Reads and READ COMMITTED transactions on the pool; each transaction holds the tenant's row (`FOR UPDATE`). */
  protected readonly credits: CreditRepository = {
    read: (tenantId, fn) => this.guard(() => this.source().read(tenantId, fn)),
    transaction: (tenantId, fn) => this.guard(() => this.source().transaction(tenantId, fn)),
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
    await this.db?.close();
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
