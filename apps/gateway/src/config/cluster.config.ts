import { hostname, networkInterfaces } from 'node:os';
import { randomBytes } from 'node:crypto';
import { registerAs } from '@nestjs/config';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  MinLength,
  ValidateIf,
} from 'class-validator';
import { ConfigValidationError, isDevMode, validateEnv } from '@app/common';

const OWNERSHIP = ['lease', 'local'] as const;
export type TenantOwnership = (typeof OWNERSHIP)[number];

export const MIN_SECRET_LENGTH = 32;

/** Tenant ownership across instances (docs/scaling.md). Only meaningful with REDIS_URL. */
export class ClusterEnv {
  /**
   * `lease`: instances share DATA_DIR and one instance at a time owns a tenant through a Redis lease;
   * the others forward its clients there. `local`: every instance serves the tenants routed to it from
   * its own volume (tenant-affinity routing). Default: `lease` when REDIS_URL is set, else `local`.
   */
  @IsOptional()
  @IsIn(OWNERSHIP)
  TENANT_OWNERSHIP?: TenantOwnership;
  @IsInt()
  @Min(1000)
  @Max(300_000)
  LEASE_TTL_MS: number = 10_000;
  /** A tenant with no clients and no live session for this long is released (0: keep until shutdown). */
  @IsInt()
  @Min(0)
  LEASE_IDLE_RELEASE_MS: number = 300_000;
  /**
   * How other instances reach this one over HTTP (admin requests for tenants it owns). Default:
   * http://<HOST, or the first non-internal IPv4 when HOST is a wildcard>:<listening port>.
   */
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  ADVERTISE_URL?: string;
  @ValidateIf((o: ClusterEnv) => o.INSTANCE_ID !== undefined)
  @Matches(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'INSTANCE_ID: 1-64 of A-Z a-z 0-9 _ . -' })
  INSTANCE_ID?: string;
  /**
   * Shared by every instance of a deployment: bus messages and admin requests sent on to a tenant's
   * owner are signed with it (HMAC-SHA256) and anything unsigned or badly signed is dropped. Required in
   * lease mode outside dev mode.
   */
  @IsOptional()
  @IsString()
  @MinLength(MIN_SECRET_LENGTH, { message: `CLUSTER_SECRET: at least ${MIN_SECRET_LENGTH} characters` })
  CLUSTER_SECRET?: string;
}

export interface ClusterConfig {
  /** True when tenant ownership runs on leases (REDIS_URL set and TENANT_OWNERSHIP=lease). */
  leases: boolean;
  ownership: TenantOwnership;
  redisUrl: string;
  keyPrefix: string;
  instanceId: string;
  leaseTtlMs: number;
  /** Renewal period: a third of the TTL, so two renewals may fail before the lease is lost. */
  renewMs: number;
  idleReleaseMs: number;
  /** '' = derived from the listening address at start. */
  advertiseUrl: string;
  /**
   * CLUSTER_SECRET: the HMAC key of bus messages and forwarded admin requests. '' only in dev mode
   * (messages go unsigned and are accepted unsigned; a warning says so at boot).
   */
  secret: string;
}

export function buildClusterConfig(env: NodeJS.ProcessEnv): ClusterConfig {
  const v = validateEnv(ClusterEnv, env);
  const redisUrl = env.REDIS_URL ?? '';
  const ownership = v.TENANT_OWNERSHIP ?? (redisUrl ? 'lease' : 'local');
  if (ownership === 'lease' && !redisUrl) {
    throw new ConfigValidationError(['TENANT_OWNERSHIP: "lease" needs REDIS_URL']);
  }
  const secret = v.CLUSTER_SECRET ?? '';
  if (ownership === 'lease' && !secret && !isDevMode(env)) {
    throw new ConfigValidationError([
      `CLUSTER_SECRET: required with TENANT_OWNERSHIP=lease (the same random string of at least ${MIN_SECRET_LENGTH} characters on every instance, e.g. \`openssl rand -hex 32\`)`,
    ]);
  }
  return {
    leases: ownership === 'lease',
    ownership,
    redisUrl,
    keyPrefix: env.REDIS_KEY_PREFIX || 'diminuendo',
    instanceId:
      v.INSTANCE_ID ??
      `${hostname()
        .replace(/[^A-Za-z0-9_.-]/g, '-')
        .slice(0, 40)}-${randomBytes(4).toString('hex')}`,
    leaseTtlMs: v.LEASE_TTL_MS,
    renewMs: Math.max(300, Math.floor(v.LEASE_TTL_MS / 3)),
    idleReleaseMs: v.LEASE_IDLE_RELEASE_MS,
    advertiseUrl: (v.ADVERTISE_URL ?? '').replace(/\/+$/, ''),
    secret,
  };
}

/** The URL other instances use to reach this one (ADVERTISE_URL, else derived from the listener). */
export function advertisedUrl(config: ClusterConfig, host: string, port: number): string {
  if (config.advertiseUrl) return config.advertiseUrl;
  let address = host;
  if (host === '0.0.0.0' || host === '::' || host === '') {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    address = external?.address ?? '127.0.0.1';
  }
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

export const clusterConfig = registerAs('cluster', () => buildClusterConfig(process.env));
