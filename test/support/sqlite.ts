import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';

export function query<T = any>(file: string, sql: string, params: unknown[] = []): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (err) => {
      if (err) return reject(err);
      db.all(sql, params, (e, rows) => {
        db.close();
        if (e) reject(e);
        else resolve(rows as T[]);
      });
    });
  });
}

/** Every database file under a data directory. */
export function databases(dataDir: string): string[] {
  const out: string[] = [];
  for (const kind of ['tenants', 'sessions']) {
    const dir = join(dataDir, kind);
    if (!existsSync(dir)) continue;
    for (const id of readdirSync(dir)) {
      const file = join(dir, id, kind === 'tenants' ? 'registry.db' : 'session.db');
      if (existsSync(file)) out.push(file);
    }
  }
  return out;
}
