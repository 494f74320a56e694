/**
 * Online backup of gateway data while the gateway runs, with SQLite's own backup API (a consistent
 * snapshot of each database, WAL included), never a raw file copy.
 *
 *   node dist/apps/gateway/apps/gateway/src/cli/backup.js --out DIR (--session ID | --tenant ID | --all) [--data-dir DIR]
 *
 * The output mirrors the data layout (tenants/{id}/registry.db, sessions/{id}/session.db), so
 * restoring is copying it into an empty DATA_DIR (see docs/operations.md).
 */
import { mkdirSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import sqlite3 from 'sqlite3';
import { isSafeId } from '@app/common';

interface Args {
  dataDir: string;
  out: string;
  session?: string;
  tenant?: string;
  all: boolean;
}

export function parseArgs(argv: string[], defaultDataDir: string): Args {
  const args: Args = { dataDir: defaultDataDir, out: '', all: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--data-dir') args.dataDir = value();
    else if (a === '--out') args.out = value();
    else if (a === '--session') args.session = value();
    else if (a === '--tenant') args.tenant = value();
    else if (a === '--all') args.all = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!args.out) throw new Error('--out DIR is required');
  if ([args.session, args.tenant, args.all || undefined].filter(Boolean).length !== 1) {
    throw new Error('name exactly one of --session ID, --tenant ID, --all');
  }
  for (const id of [args.session, args.tenant])
    if (id !== undefined && !isSafeId(id)) throw new Error(`invalid id ${id}`);
  return args;
}

function open(file: string, mode: number): Promise<sqlite3.Database> {
  return new Promise((res, rej) => {
    const db = new sqlite3.Database(file, mode, (err) => (err ? rej(err) : res(db)));
  });
}

function all<T>(db: sqlite3.Database, sql: string): Promise<T[]> {
  return new Promise((res, rej) => db.all(sql, (err, rows) => (err ? rej(err) : res(rows as T[]))));
}

function close(db: sqlite3.Database): Promise<void> {
  return new Promise((res) => db.close(() => res()));
}

/** The part of node-sqlite3's Backup object used here (its typings omit it). */
interface SqliteBackup {
  step(pages: number, cb: (err: Error | null) => void): void;
  finish(cb: (err: Error | null) => void): void;
}
type WithBackup = sqlite3.Database & { backup(file: string, cb: (err: Error | null) => void): SqliteBackup };

/** Copies one live database to `dest` in a single backup step (a consistent snapshot). */
export async function backupFile(source: string, dest: string): Promise<void> {
  mkdirSync(dirname(dest), { recursive: true });
  const db = await open(source, sqlite3.OPEN_READONLY);
  try {
    await new Promise<void>((res, rej) => {
      const backup = (db as WithBackup).backup(dest, (err: Error | null) => {
        if (err) return rej(err);
        backup.step(-1, (stepErr: Error | null) => {
          if (stepErr) return rej(stepErr);
          backup.finish((finishErr: Error | null) => (finishErr ? rej(finishErr) : res()));
        });
      });
    });
  } finally {
    await close(db);
  }
}

export async function runBackup(args: Args): Promise<string[]> {
  const data = resolve(args.dataDir);
  const out = resolve(args.out);
  const copied: string[] = [];
  const session = async (id: string) => {
    const src = join(data, 'sessions', id, 'session.db');
    if (!existsSync(src)) return;
    await backupFile(src, join(out, 'sessions', id, 'session.db'));
    copied.push(`sessions/${id}/session.db`);
  };
  const tenant = async (id: string) => {
    const src = join(data, 'tenants', id, 'registry.db');
    if (!existsSync(src)) throw new Error(`no registry for tenant ${id}`);
    await backupFile(src, join(out, 'tenants', id, 'registry.db'));
    copied.push(`tenants/${id}/registry.db`);
    // The tenant's sessions live under sessions/: the registry says which are its own.
    const db = await open(join(out, 'tenants', id, 'registry.db'), sqlite3.OPEN_READONLY);
    const rows = await all<{ id: string }>(db, 'SELECT id FROM sessions').finally(() => close(db));
    for (const r of rows) if (isSafeId(r.id)) await session(r.id);
  };
  if (args.session) {
    if (!existsSync(join(data, 'sessions', args.session, 'session.db')))
      throw new Error(`no database for session ${args.session}`);
    await session(args.session);
  } else if (args.tenant) {
    await tenant(args.tenant);
  } else {
    const tenants = existsSync(join(data, 'tenants'))
      ? readdirSync(join(data, 'tenants')).filter(isSafeId)
      : [];
    for (const t of tenants) await tenant(t);
  }
  return copied;
}

if (require.main === module) {
  // eslint-disable-next-line no-restricted-properties -- a standalone command, outside the Nest app
  const defaultDataDir = process.env.DATA_DIR || './data';
  Promise.resolve()
    .then(() => runBackup(parseArgs(process.argv.slice(2), defaultDataDir)))
    .then((files) => {
      process.stdout.write(`backed up ${files.length} databases\n${files.map((f) => `  ${f}\n`).join('')}`);
    })
    .catch((err: Error) => {
      process.stderr.write(`backup failed: ${err.message}\n`);
      process.exit(1);
    });
}
