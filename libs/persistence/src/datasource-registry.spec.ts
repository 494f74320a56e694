import { existsSync, mkdtempSync, openSync, readSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource, QueryRunner } from 'typeorm';
import { DataSourceRegistry, openSqlite, type SqliteSchema } from './datasource-registry';
import { RegistryInitial1764000000001 } from './migrations/registry-1-initial';
import { REGISTRY_ENTITIES } from './registry/entities';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'ds-registry-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let ups = 0;
/** The real registry migration, counting how often it runs. */
class CountingRegistryMigration extends RegistryInitial1764000000001 {
  override async up(q: QueryRunner): Promise<void> {
    ups++;
    await super.up(q);
  }
}
const schema: SqliteSchema = { entities: REGISTRY_ENTITIES, migrations: [CountingRegistryMigration] };
const plain: SqliteSchema = { entities: [], migrations: [] };

async function scalar(ds: DataSource, sql: string): Promise<unknown> {
  const rows = (await ds.query(sql)) as Record<string, unknown>[];
  return Object.values(rows[0])[0];
}

async function until(cond: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('openSqlite', () => {
  it('creates the file and its directories, in WAL mode with the documented pragmas', async () => {
    const file = join(root, 'open', 'nested', 'dir', 'registry.db');
    expect(existsSync(file)).toBe(false);
    const ds = await openSqlite(file, schema);
    try {
      expect(existsSync(file)).toBe(true);
      expect(String(await scalar(ds, 'PRAGMA journal_mode')).toLowerCase()).toBe('wal');
      expect(await scalar(ds, 'PRAGMA synchronous')).toBe(1); // NORMAL
      expect(await scalar(ds, 'PRAGMA busy_timeout')).toBe(5000);
      expect(await scalar(ds, 'PRAGMA foreign_keys')).toBe(1);
      expect(await scalar(ds, 'PRAGMA temp_store')).toBe(2); // MEMORY
    } finally {
      await ds.destroy();
    }
    // WAL is persistent: the header's read/write format versions (bytes 18, 19) are 2.
    const header = Buffer.alloc(20);
    const fd = openSync(file, 'r');
    readSync(fd, header, 0, 20, 0);
    closeSync(fd);
    expect(header.subarray(0, 15).toString()).toBe('SQLite format 3');
    expect([header[18], header[19]]).toEqual([2, 2]);
  });

  it('runs the registry migration once: tables exist, reopening does not run it again', async () => {
    const file = join(root, 'migrate', 'registry.db');
    ups = 0;
    const first = await openSqlite(file, schema);
    const tables = (await first.query("SELECT name FROM sqlite_master WHERE type = 'table'")) as {
      name: string;
    }[];
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['sessions', 'members']));
    const indexes = (await first.query("SELECT name FROM sqlite_master WHERE type = 'index'")) as {
      name: string;
    }[];
    expect(indexes.map((t) => t.name)).toEqual(
      expect.arrayContaining(['idx_sessions_archived_updated', 'idx_sessions_status', 'idx_members_email']),
    );
    await first.query(
      `INSERT INTO members (user_id, role, created_at, updated_at) VALUES ('u1', 'owner', 1, 1)`,
    );
    expect(ups).toBe(1);
    await first.destroy();

    const second = await openSqlite(file, schema);
    try {
      expect(ups).toBe(1);
      expect(await scalar(second, 'SELECT COUNT(*) AS n FROM migrations')).toBe(1);
      expect(await scalar(second, `SELECT role FROM members WHERE user_id = 'u1'`)).toBe('owner');
    } finally {
      await second.destroy();
    }
  });
});

describe('DataSourceRegistry', () => {
  let n = 0;
  /** A fresh directory and a counting opener of real SQLite files in it. */
  function setup(max: number) {
    const dir = join(root, `reg-${++n}`);
    const opened: DataSource[] = [];
    const open = jest.fn(async (key: string) => {
      const ds = await openSqlite(join(dir, `${key}.db`), plain);
      opened.push(ds);
      return ds;
    });
    const registry = new DataSourceRegistry(max, open);
    return { registry, open, opened };
  }

  it('shares one open between concurrent uses of a key', async () => {
    const { registry, open } = setup(4);
    const seen = await Promise.all(Array.from({ length: 10 }, () => registry.use('a', async (ds) => ds)));
    expect(open).toHaveBeenCalledTimes(1);
    expect(open).toHaveBeenCalledWith('a');
    expect(new Set(seen).size).toBe(1);
    await registry.use('a', async () => undefined);
    expect(open).toHaveBeenCalledTimes(1);
    expect(registry.size).toBe(1);
    await registry.closeAll();
  });

  it('returns what the callback returns and passes its errors through', async () => {
    const { registry } = setup(2);
    expect(await registry.use('a', async (ds) => scalar(ds, 'SELECT 41 + 1 AS v'))).toBe(42);
    await expect(registry.use('a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await registry.use('a', async () => 'still usable')).toBe('still usable');
    await registry.closeAll();
  });

  it('closes the least recently used idle handle beyond max', async () => {
    const { registry, open } = setup(2);
    const a = await registry.use('a', async (ds) => ds);
    const b = await registry.use('b', async (ds) => ds);
    await registry.use('a', async () => undefined); // a is now more recent than b
    const c = await registry.use('c', async (ds) => ds);
    expect(registry.size).toBe(2);
    expect(registry.has('b')).toBe(false);
    expect(registry.has('a')).toBe(true);
    expect(registry.has('c')).toBe(true);
    await until(() => !b.isInitialized);
    expect(a.isInitialized).toBe(true);
    expect(c.isInitialized).toBe(true);
    // Using the evicted key again opens it anew.
    await registry.use('b', async () => undefined);
    expect(open).toHaveBeenCalledTimes(4);
    expect(registry.has('a')).toBe(false);
    await registry.closeAll();
  });

  it('never closes a handle that has an active lease', async () => {
    const { registry } = setup(1);
    const hold = deferred();
    let held: DataSource | undefined;
    const holding = registry.use('a', async (ds) => {
      held = ds;
      await hold.promise;
      return scalar(ds, 'SELECT 7 AS v');
    });
    await until(() => held !== undefined);
    // 'a' is the least recently used, but leased: 'b' must be the one that goes.
    const b = await registry.use('b', async (ds) => ds);
    await registry.use('c', async () => undefined);
    expect(registry.has('a')).toBe(true);
    expect(held!.isInitialized).toBe(true);
    await until(() => !b.isInitialized);
    hold.resolve();
    expect(await holding).toBe(7);
    await registry.closeAll();
  });

  it('lets the size exceed max while every handle is leased, and shrinks once they are released', async () => {
    const { registry } = setup(1);
    const hold = deferred();
    const uses = ['a', 'b', 'c'].map((k) => registry.use(k, async () => hold.promise));
    await until(() => registry.size === 3);
    await new Promise((r) => setTimeout(r, 20));
    expect(registry.size).toBe(3);
    hold.resolve();
    await Promise.all(uses);
    expect(registry.size).toBe(1);
    await registry.closeAll();
  });

  it('serialises writes to one key: interleaved async transactions all commit, none overlap', async () => {
    const { registry } = setup(2);
    await registry.write('w', (ds) => ds.query('CREATE TABLE t (writer INTEGER, step INTEGER)'));
    const log: string[] = [];
    const writers = Array.from({ length: 20 }, (_, i) =>
      registry.write('w', (ds) =>
        ds.transaction(async (m) => {
          log.push(`start ${i}`);
          await m.query('INSERT INTO t VALUES (?, 1)', [i]);
          await new Promise((r) => setTimeout(r, (i * 7) % 5));
          await m.query('INSERT INTO t VALUES (?, 2)', [i]);
          log.push(`end ${i}`);
          return i;
        }),
      ),
    );
    expect(await Promise.all(writers)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    for (let i = 0; i < 20; i++) expect(log.slice(2 * i, 2 * i + 2)).toEqual([`start ${i}`, `end ${i}`]);
    expect(await registry.use('w', (ds) => scalar(ds, 'SELECT COUNT(*) AS n FROM t'))).toBe(40);
    await registry.closeAll();
  });

  it('keeps the write queue going after a failed write, and rolls the failed one back', async () => {
    const { registry } = setup(2);
    await registry.write('w', (ds) => ds.query('CREATE TABLE t (v INTEGER)'));
    const failing = registry.write('w', (ds) =>
      ds.transaction(async (m) => {
        await m.query('INSERT INTO t VALUES (1)');
        throw new Error('abort');
      }),
    );
    const next = registry.write('w', (ds) => ds.transaction((m) => m.query('INSERT INTO t VALUES (2)')));
    await expect(failing).rejects.toThrow('abort');
    await next;
    expect(await registry.use('w', (ds) => ds.query('SELECT v FROM t'))).toEqual([{ v: 2 }]);
    await registry.closeAll();
  });

  it('forgets a failed open so the next use retries', async () => {
    let fail = true;
    const open = jest.fn(async (key: string) => {
      if (fail) throw new Error('disk on fire');
      return openSqlite(join(root, `retry-${key}.db`), plain);
    });
    const registry = new DataSourceRegistry(2, open);
    const attempts = await Promise.allSettled([
      registry.use('a', async () => 1),
      registry.use('a', async () => 2),
    ]);
    expect(attempts.map((a) => a.status)).toEqual(['rejected', 'rejected']);
    expect(open).toHaveBeenCalledTimes(1);
    expect(registry.has('a')).toBe(false);
    fail = false;
    expect(await registry.use('a', async () => 'ok')).toBe('ok');
    expect(open).toHaveBeenCalledTimes(2);
    await registry.closeAll();
  });

  it('close is safe twice (also concurrently) and on unknown keys; the key reopens afterwards', async () => {
    const { registry, open } = setup(2);
    const ds = await registry.use('a', async (d) => d);
    await Promise.all([registry.close('a'), registry.close('a')]);
    await registry.close('a');
    await registry.close('never-opened');
    expect(ds.isInitialized).toBe(false);
    expect(registry.has('a')).toBe(false);
    const again = await registry.use('a', async (d) => d);
    expect(again).not.toBe(ds);
    expect(again.isInitialized).toBe(true);
    expect(open).toHaveBeenCalledTimes(2);
    await registry.closeAll();
  });

  it('closeAll closes every handle, waits for queued writes, is safe twice, and refuses later use', async () => {
    const { registry, opened } = setup(5);
    await registry.write('a', (ds) => ds.query('CREATE TABLE t (v INTEGER)'));
    await registry.use('b', async () => undefined);
    const slow = registry.write('a', async (ds) => {
      await new Promise((r) => setTimeout(r, 30));
      await ds.query('INSERT INTO t VALUES (1)');
      return 'written';
    });
    await new Promise((r) => setImmediate(r));
    await registry.closeAll();
    expect(await slow).toBe('written');
    await registry.closeAll();
    expect(registry.size).toBe(0);
    expect(opened.every((d) => !d.isInitialized)).toBe(true);
    await expect(registry.use('a', async () => 1)).rejects.toThrow(/closed/);
    await expect(registry.write('c', async () => 1)).rejects.toThrow(/closed/);
    expect(registry.size).toBe(0);
  });
});
