import { registerAs } from '@nestjs/config';
import { IsString } from 'class-validator';
import { ConfigValidationError, csv, validateEnv } from '@app/common';

/**
 * The tenants this instance serves (Model 1, per-instance volumes with tenant affinity, docs/scaling.md).
 * Every shard sees only its own volume, so a client the proxy routed to the wrong shard would quietly
 * build a second registry and a second credit balance for its tenant there; with a shard map it is
 * refused instead.
 */
export class ShardEnv {
  /**
   * Comma-separated tenant ids, or prefixes ending in `*` (`acme,globex,team-*`). Empty: every tenant
   * (one instance, or lease mode).
   */
  @IsString()
  SHARD_TENANTS: string = '';
}

/** A tenant id, a prefix ending in `*`, or `*` alone (every tenant). */
const SHARD_ENTRY = /^(?:[A-Za-z0-9_-]{1,128}\*?|\*)$/;

export interface ShardConfig {
  /** False when SHARD_TENANTS is empty: every tenant is served. */
  restricted: boolean;
  tenants: string[];
  prefixes: string[];
}

export function buildShardConfig(env: NodeJS.ProcessEnv): ShardConfig {
  const v = validateEnv(ShardEnv, env);
  const entries = csv(v.SHARD_TENANTS);
  const bad = entries.filter((e) => !SHARD_ENTRY.test(e));
  if (bad.length > 0) {
    throw new ConfigValidationError([
      `SHARD_TENANTS: tenant ids (A-Z a-z 0-9 _ -, at most 128), each optionally ending in * (got ${JSON.stringify(bad.join(','))})`,
    ]);
  }
  const ownership = env.TENANT_OWNERSHIP || (env.REDIS_URL ? 'lease' : 'local');
  if (entries.length > 0 && ownership === 'lease') {
    throw new ConfigValidationError([
      'SHARD_TENANTS: only with TENANT_OWNERSHIP=local (per-instance volumes); in lease mode every ' +
        'instance serves every tenant',
    ]);
  }
  const restricted = entries.length > 0 && !entries.includes('*');
  return {
    restricted,
    tenants: entries.filter((e) => !e.endsWith('*')),
    prefixes: entries.filter((e) => e.endsWith('*')).map((e) => e.slice(0, -1)),
  };
}

export const shardConfig = registerAs('shard', () => buildShardConfig(process.env));
