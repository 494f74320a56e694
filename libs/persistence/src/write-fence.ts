import type { DataSource } from 'typeorm';

/**
 * Who may write a tenant's data when several gateway instances share one DATA_DIR (docs/scaling.md,
 * "Tenant ownership"). Unset (one instance, or per-instance volumes), nothing is fenced.
 */
export interface WriteFence {
  /** The fencing token of the lease this instance holds on the tenant, or 0 when it holds none. */
  tokenFor(tenantId: string): number;
  /**
   * The token to write a session's database with: undefined when the session is not fenced, 0 when this
   * instance may no longer write it (its tenant's lease is gone).
   */
  sessionWriteToken(sessionId: string): Promise<number | undefined>;
}

export class FencedError extends Error {
  constructor(what: string) {
    super(`fenced: ${what} belongs to another gateway instance's lease`);
    this.name = 'FencedError';
  }
}

const FENCE_TABLE = 'ownership_fence';
const UNFENCED_TABLES = new Set([FENCE_TABLE, 'migrations', 'typeorm_metadata']);

/**
 * Storage-side fencing of one SQLite database: a one-row `ownership_fence` table holds the newest
 * lease token that claimed the file, this connection's token sits in a TEMP table, and TEMP triggers on
 * every table abort any INSERT/UPDATE/DELETE while the file's token is newer than ours. The check runs
 * inside the writing statement, under SQLite's write lock, so a former owner that was paused past its
 * lease cannot commit once the new owner has claimed the file. Claiming (token > 0) raises the file's
 * token; a token older than the file's is refused at open.
 */
export async function installFence(ds: DataSource, token: number, what: string): Promise<void> {
  await ds.query(
    `CREATE TABLE IF NOT EXISTS ${FENCE_TABLE} (id INTEGER PRIMARY KEY CHECK (id = 1), token INTEGER NOT NULL)`,
  );
  await ds.query(`INSERT OR IGNORE INTO ${FENCE_TABLE} (id, token) VALUES (1, 0)`);
  if (token > 0) {
    await ds.query(`UPDATE ${FENCE_TABLE} SET token = ? WHERE id = 1 AND token < ?`, [token, token]);
    const [row] = (await ds.query(`SELECT token FROM ${FENCE_TABLE} WHERE id = 1`)) as { token: number }[];
    if (row.token > token) throw new FencedError(what);
  }
  await ds.query('CREATE TEMP TABLE IF NOT EXISTS writer_fence (token INTEGER NOT NULL)');
  await ds.query('DELETE FROM temp.writer_fence');
  await ds.query('INSERT INTO temp.writer_fence (token) VALUES (?)', [token]);
  const tables = (await ds.query(
    "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
  )) as { name: string }[];
  for (const { name } of tables) {
    if (UNFENCED_TABLES.has(name) || !/^[A-Za-z0-9_]+$/.test(name)) continue;
    for (const op of ['INSERT', 'UPDATE', 'DELETE']) {
      await ds.query(
        `CREATE TEMP TRIGGER IF NOT EXISTS fence_${name}_${op.toLowerCase()} BEFORE ${op} ON main."${name}" ` +
          `WHEN (SELECT token FROM main.${FENCE_TABLE} WHERE id = 1) > (SELECT token FROM temp.writer_fence) ` +
          `BEGIN SELECT RAISE(ABORT, 'fenced: a newer lease owns this database'); END`,
      );
    }
  }
}

/** The newest token that claimed the database (0 when never claimed). */
export async function readFenceToken(ds: DataSource): Promise<number> {
  const rows = (await ds.query(`SELECT token FROM main.${FENCE_TABLE} WHERE id = 1`).catch(() => [])) as {
    token: number;
  }[];
  return rows[0]?.token ?? 0;
}

/** True for the error a fenced write fails with (ours, or SQLite's trigger abort). */
export function isFencedError(err: unknown): boolean {
  return err instanceof FencedError || (err instanceof Error && err.message.includes('fenced:'));
}
