import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RegistryInitial1764000000001 implements MigrationInterface {
  name = 'RegistryInitial1764000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS sessions (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL DEFAULT '',
      agent_type TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'inactive',
      archived BOOLEAN NOT NULL DEFAULT 0,
      project_id TEXT,
      created_by TEXT NOT NULL,
      instance_id TEXT,
      sandbox_status TEXT,
      last_seq INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      last_activity_at INTEGER
    )`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS idx_sessions_archived_updated ON sessions(archived, updated_at)`,
    );
    await q.query(`CREATE INDEX IF NOT EXISTS idx_sessions_status ON sessions(status)`);
    await q.query(`CREATE TABLE IF NOT EXISTS members (
      user_id TEXT PRIMARY KEY,
      email TEXT,
      role TEXT NOT NULL,
      added_by TEXT,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    )`);
    await q.query(`CREATE INDEX IF NOT EXISTS idx_members_email ON members(email)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE members`);
    await q.query(`DROP TABLE sessions`);
  }
}
