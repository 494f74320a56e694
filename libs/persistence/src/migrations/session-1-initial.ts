import type { MigrationInterface, QueryRunner } from 'typeorm';

export class SessionInitial1764000000101 implements MigrationInterface {
  name = 'SessionInitial1764000000101';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS events (
      seq INTEGER PRIMARY KEY,
      type TEXT NOT NULL,
      turn_id TEXT,
      payload TEXT NOT NULL,
      ts INTEGER NOT NULL
    )`);
    await q.query(`CREATE INDEX IF NOT EXISTS idx_events_turn ON events(turn_id)`);
    await q.query(`CREATE TABLE IF NOT EXISTS messages (
      id TEXT PRIMARY KEY,
      turn_id TEXT,
      role TEXT NOT NULL,
      content TEXT NOT NULL,
      metadata TEXT,
      user_id TEXT,
      created_at INTEGER NOT NULL
    )`);
    await q.query(`CREATE INDEX IF NOT EXISTS idx_messages_created ON messages(created_at)`);
    await q.query(`CREATE INDEX IF NOT EXISTS idx_messages_turn ON messages(turn_id)`);
    await q.query(`CREATE TABLE IF NOT EXISTS turn_usage (
      turn_id TEXT PRIMARY KEY,
      model TEXT,
      input_tokens INTEGER NOT NULL DEFAULT 0,
      output_tokens INTEGER NOT NULL DEFAULT 0,
      cache_read_tokens INTEGER NOT NULL DEFAULT 0,
      cache_write_tokens INTEGER NOT NULL DEFAULT 0,
      cost INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE turn_usage`);
    await q.query(`DROP TABLE messages`);
    await q.query(`DROP TABLE events`);
  }
}
