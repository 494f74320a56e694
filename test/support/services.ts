import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';

/**
 * The shared services the scale-out tests talk to: the machine's Redis and PostgreSQL (.ci/run starts
 * them when they are down). Override with TEST_REDIS_URL / TEST_DATABASE_URL. Every test names its own
 * key prefix or schema/tenants so that runs never collide.
 */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
/** CLUSTER_SECRET of the gateways a test runs in lease mode (required there outside dev mode). */
export const TEST_CLUSTER_SECRET = 'test-cluster-secret-0123456789abcdef0123';

/** A name unique to this run, usable as a Redis key prefix or a PostgreSQL identifier. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
}

/** Deletes every key a test wrote under its prefix (`<prefix>:*`). */
export async function deleteRedisKeys(prefix: string, redis?: Redis): Promise<void> {
  const client = redis ?? new Redis(TEST_REDIS_URL);
  try {
    const keys = await client.keys(`${prefix}:*`);
    if (keys.length) await client.del(...keys);
  } finally {
    if (!redis) await client.quit();
  }
}
