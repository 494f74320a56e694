import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import sqlite3 from 'sqlite3';
import { DataSource, type EntitySchema, type MixedList } from 'typeorm';

/**
 * The sqlite3 module as TypeORM should see it: TypeORM calls `verbose()`, which wraps every database
 * call to capture a stack and `util.inspect` its arguments — for a 400-row INSERT that is most of the
 * cost of the write. Errors still carry SQLite's message.
 */
const sqliteDriver = Object.assign(Object.create(sqlite3) as typeof sqlite3, { verbose: () => sqlite3 });

export interface SqliteSchema {
  entities: MixedList<string | (new () => unknown) | EntitySchema>;
  migrations: MixedList<string | (new () => unknown)>;
}

/**
 * Opens one SQLite file through TypeORM over `sqlite3`: WAL, the pragmas of docs/architecture.md ("Persistence"), and
 * the schema migrated on open. `existing` opens a file only if it exists and leaves its schema alone
 * (a reader that is not the file's owner: creating and migrating it is the owner's job).
 */
export async function openSqlite(
  file: string,
  schema: SqliteSchema,
  options: { existing?: boolean } = {},
): Promise<DataSource> {
  if (!options.existing) mkdirSync(dirname(file), { recursive: true });
  const ds = new DataSource({
    type: 'sqlite',
    driver: sqliteDriver,
    database: file,
    ...(options.existing ? { flags: sqlite3.OPEN_READWRITE } : {}),
    entities: schema.entities,
    migrations: schema.migrations,
    migrationsRun: !options.existing,
    migrationsTransactionMode: 'all',
    synchronize: false,
    logging: false,
    // WAL is a property of the file, set by its owner; a reader's switch would be a write.
    enableWAL: !options.existing,
    busyTimeout: 5000,
  });
  await ds.initialize();
  await ds.query('PRAGMA synchronous = NORMAL');
  await ds.query('PRAGMA temp_store = MEMORY');
  await ds.query('PRAGMA foreign_keys = ON');
  return ds;
}

/**
 * True when every migration of `schema` is recorded in the database (read without creating anything:
 * TypeORM's own check would create the migrations table).
 */
export async function isMigrated(ds: DataSource, names: string[]): Promise<boolean> {
  const rows = (await ds.query('SELECT name FROM migrations').catch(() => [])) as { name: string }[];
  const done = new Set(rows.map((r) => r.name));
  return names.every((n) => done.has(n));
}

interface Entry {
  ready: Promise<DataSource>;
  ds?: DataSource;
  leases: number;
  /** Tail of the write queue: TypeORM's sqlite driver has one connection, so transactions must not interleave. */
  writeTail: Promise<unknown>;
  closing?: Promise<void>;
}

/**
 * A memoized registry of DataSources keyed by tenant or session: concurrent callers share one in-flight
 * `initialize()`, the least recently used idle handles are closed beyond `max`, and `closeAll()` runs on
 * shutdown. Every use holds a lease so a handle is never closed under a running query.
 */
export class DataSourceRegistry {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  /** `beforeClose`: runs after the last write and before the handle closes (e.g. to finalize statements). */
  constructor(
    private readonly max: number,
    private readonly open: (key: string) => Promise<DataSource>,
    private readonly beforeClose?: (ds: DataSource) => Promise<void>,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Runs `fn` with the key's DataSource, opening it if needed. */
  async use<T>(key: string, fn: (ds: DataSource) => Promise<T>): Promise<T> {
    const entry = await this.acquire(key);
    try {
      return await fn(entry.ds!);
    } finally {
      entry.leases--;
      this.evict();
    }
  }

  /** Like `use`, but serialised with every other write to the same database. */
  async write<T>(key: string, fn: (ds: DataSource) => Promise<T>): Promise<T> {
    const entry = await this.acquire(key);
    const run = entry.writeTail.then(() => fn(entry.ds!));
    entry.writeTail = run.catch(() => undefined);
    try {
      return await run;
    } finally {
      entry.leases--;
      this.evict();
    }
  }

  /** Closes one handle (e.g. before its directory is removed). Safe to call twice. */
  async close(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    await this.destroy(entry);
  }

  async closeAll(): Promise<void> {
    this.closed = true;
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => this.destroy(e)));
  }

  private async acquire(key: string): Promise<Entry> {
    if (this.closed) throw new Error('database registry is closed');
    let entry = this.entries.get(key);
    if (entry) {
      // Re-insert to mark as most recently used.
      this.entries.delete(key);
      this.entries.set(key, entry);
    } else {
      const ready = this.open(key);
      entry = { ready, leases: 0, writeTail: Promise.resolve() };
      this.entries.set(key, entry);
      const created = entry;
      ready.then(
        (ds) => (created.ds = ds),
        () => {
          if (this.entries.get(key) === created) this.entries.delete(key);
        },
      );
    }
    entry.leases++;
    try {
      entry.ds = await entry.ready;
    } catch (err) {
      entry.leases--;
      throw err;
    }
    return entry;
  }

  private evict(): void {
    if (this.entries.size <= this.max) return;
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.max) break;
      if (entry.leases > 0 || !entry.ds) continue;
      this.entries.delete(key);
      void this.destroy(entry);
    }
  }

  private destroy(entry: Entry): Promise<void> {
    entry.closing ??= (async () => {
      const ds = await entry.ready.catch(() => undefined);
      await entry.writeTail.catch(() => undefined);
      if (ds && this.beforeClose) await this.beforeClose(ds).catch(() => undefined);
      if (ds?.isInitialized) await ds.destroy().catch(() => undefined);
    })();
    return entry.closing;
  }
}
