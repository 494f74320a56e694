import { randomUUID } from 'node:crypto';

/**
 * The shared services the scale-out tests talk to: the machine's Redis and PostgreSQL (.ci/run starts
 * them when they are down). Override with TEST_REDIS_URL / TEST_DATABASE_URL. Every test names its own
 * key prefix or schema/tenants so that runs never collide.
 */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

/** A name unique to this run, usable as a Redis key prefix or a PostgreSQL identifier. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
}
