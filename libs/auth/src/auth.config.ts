import { registerAs } from '@nestjs/config';
import { Transform } from 'class-transformer';
import { IsInt, IsString, IsUrl, Matches, Max, Min, ValidateIf } from 'class-validator';
import { ConfigValidationError, csv, isDevMode, parseBool, validateEnv } from '@app/common';
import { resolveIssuers, type TokenIssuer } from './token-issuer';

export class AuthEnv {
  @ValidateIf((o: AuthEnv) => o.AUTH_URL !== '')
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  AUTH_URL: string = '';
  @IsString()
  AUTH_CLIENT_ID: string = '';
  /** Secret: never logged. Accepted for Auth0 parity; verification does not need it. */
  @IsString()
  AUTH_CLIENT_SECRET: string = '';
  @IsString()
  AUTH_AUDIENCE: string = '';
  @IsInt()
  @Min(0)
  @Max(600)
  AUTH_CLOCK_TOLERANCE_S: number = 30;
  @IsString()
  AUTH_TENANT_CLAIM: string = 'tenant_id';
  @IsString()
  AUTH_ROLES_CLAIM: string = '';
  /**
   * More token issuers besides AUTH_URL: a JSON array of {issuer, jwksUri, audience, tenantClaim?,
   * rolesClaim?} (docs/extending.md (d)).
   */
  @IsString()
  AUTH_EXTRA_ISSUERS: string = '';
  @IsInt()
  @Min(1)
  AUTH_RATE_LIMIT_MAX: number = 10;
  @IsInt()
  @Min(1000)
  AUTH_RATE_LIMIT_WINDOW_MS: number = 60_000;
  /** At most one JWKS refetch for unknown key ids per this many ms. */
  @IsInt()
  @Min(0)
  AUTH_JWKS_COOLDOWN_MS: number = 30_000;
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  JWT_CACHE_MAX: number = 10_000;
  @IsInt()
  @Min(0)
  @Max(300_000)
  JWT_CACHE_TTL_MS: number = 300_000;
  @IsString()
  ALLOWED_ORIGINS: string = '';
  /**
   * Reverse-proxy hops in front of the gateway (as Express's `trust proxy` number): the client address
   * is the X-Forwarded-For entry that many hops from the right. `true` = 1, `false` = 0 (ignore it).
   */
  @Transform(parseHops)
  @IsInt({ message: 'TRUST_PROXY: true, false or a hop count 0-32' })
  @Min(0)
  @Max(32)
  TRUST_PROXY: number = 0;
  /**
   * Redis shared by every gateway instance (docs/scaling.md). Set: the failed-authentication limiter
   * counts there, so instances share one budget per IP. Unset: in memory, nothing is contacted.
   */
  @ValidateIf((o: AuthEnv) => o.REDIS_URL !== '')
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['redis', 'rediss'] })
  REDIS_URL: string = '';
  /** Prefix of every key this gateway writes to Redis (several deployments may share one Redis). */
  @Matches(/^[A-Za-z0-9_.:-]{1,64}$/, { message: 'REDIS_KEY_PREFIX: 1-64 of A-Z a-z 0-9 _ . : -' })
  REDIS_KEY_PREFIX: string = 'diminuendo';
}

export interface AuthConfig {
  devMode: boolean;
  authUrl: string;
  issuer: string;
  jwksUri: string;
  audience: string;
  clientSecretSet: boolean;
  clockToleranceS: number;
  tenantClaim: string;
  rolesClaim: string;
  /** Every configured issuer: AUTH_URL's first, then AUTH_EXTRA_ISSUERS; none in dev mode. */
  issuers: TokenIssuer[];
  rateLimitMax: number;
  rateLimitWindowMs: number;
  jwksCooldownMs: number;
  cacheMax: number;
  cacheTtlMs: number;
  allowedOrigins: string[];
  /** Trusted proxy hops (TRUST_PROXY); 0 ignores X-Forwarded-For. */
  trustProxy: number;
  /** Shared Redis for the failed-authentication limiter; '' keeps it in memory. */
  redisUrl: string;
  redisKeyPrefix: string;
}

export function buildAuthConfig(env: NodeJS.ProcessEnv): AuthConfig {
  const v = validateEnv(AuthEnv, env);
  const devMode = isDevMode(env);
  const problems = devMode ? devModeProblems(v, env) : productionProblems(v);
  const base = v.AUTH_URL.replace(/\/+$/, '');
  const primary: TokenIssuer = {
    issuer: base ? `${base}/` : '',
    jwksUri: base ? `${base}/.well-known/jwks.json` : '',
    audience: v.AUTH_AUDIENCE || v.AUTH_CLIENT_ID,
    tenantClaim: v.AUTH_TENANT_CLAIM,
    rolesClaim: v.AUTH_ROLES_CLAIM,
    source: 'AUTH_URL',
  };
  const extra = devMode ? { issuers: [], problems: [] } : extraIssuers(v, primary);
  problems.push(...extra.problems);
  if (problems.length > 0) throw new ConfigValidationError(problems);
  return {
    devMode,
    authUrl: v.AUTH_URL,
    issuer: primary.issuer,
    jwksUri: primary.jwksUri,
    audience: primary.audience,
    clientSecretSet: v.AUTH_CLIENT_SECRET !== '',
    clockToleranceS: v.AUTH_CLOCK_TOLERANCE_S,
    tenantClaim: v.AUTH_TENANT_CLAIM,
    rolesClaim: v.AUTH_ROLES_CLAIM,
    issuers: base ? [primary, ...extra.issuers] : [],
    rateLimitMax: v.AUTH_RATE_LIMIT_MAX,
    rateLimitWindowMs: v.AUTH_RATE_LIMIT_WINDOW_MS,
    jwksCooldownMs: v.AUTH_JWKS_COOLDOWN_MS,
    cacheMax: v.JWT_CACHE_MAX,
    cacheTtlMs: v.JWT_CACHE_TTL_MS,
    allowedOrigins: csv(v.ALLOWED_ORIGINS),
    trustProxy: v.TRUST_PROXY,
    redisUrl: v.REDIS_URL,
    redisKeyPrefix: v.REDIS_KEY_PREFIX,
  };
}

/** AUTH_EXTRA_ISSUERS: a JSON array checked entry by entry; the claim names default to the primary's. */
function extraIssuers(v: AuthEnv, primary: TokenIssuer): ReturnType<typeof resolveIssuers> {
  if (!v.AUTH_EXTRA_ISSUERS) return { issuers: [], problems: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(v.AUTH_EXTRA_ISSUERS);
  } catch (err) {
    return { issuers: [], problems: [`AUTH_EXTRA_ISSUERS: not valid JSON (${(err as Error).message})`] };
  }
  return resolveIssuers(raw, 'AUTH_EXTRA_ISSUERS', primary, primary.issuer ? [primary] : []);
}

/** TRUST_PROXY: `true`/`false` as 1/0, else a whole number; anything else is left to fail validation. */
function parseHops({ value, obj, key }: { value: unknown; obj?: Record<string, unknown>; key?: string }) {
  if (obj && key && key in obj) value = obj[key];
  const v = String(value).trim().toLowerCase();
  if (v === 'true') return 1;
  if (v === 'false') return 0;
  return /^\d{1,3}$/.test(v) ? Number(v) : value;
}

/**
 * Production rules (spec README "Dev mode"): anything but an explicit dev mode verifies tokens, so the
 * issuer and the audience must be known.
 */
function productionProblems(v: AuthEnv): string[] {
  const problems: string[] = [];
  if (!v.AUTH_URL) {
    problems.push(
      'AUTH_URL: required in production (the default unless NODE_ENV=development or DEV_MODE=true); ' +
        'set AUTH_URL to your Auth0 tenant, or run `npm run start:dev` for a local gateway without authentication',
    );
  }
  if (!v.AUTH_AUDIENCE && !v.AUTH_CLIENT_ID) {
    problems.push(
      'AUTH_AUDIENCE or AUTH_CLIENT_ID: required in production, so that tokens issued for another API are refused',
    );
  }
  return problems;
}

/**
 * Dev mode bypasses authentication: a configured AUTH_URL (or AUTH_EXTRA_ISSUERS) says the operator expects tokens to be
 * verified, so the two together are a contradiction and the gateway refuses rather than guess.
 */
function devModeProblems(v: AuthEnv, env: NodeJS.ProcessEnv): string[] {
  const asked =
    parseBool({ value: env.DEV_MODE ?? 'false' }) === true ? 'DEV_MODE=true' : 'NODE_ENV=development';
  return (['AUTH_URL', 'AUTH_EXTRA_ISSUERS'] as const)
    .filter((name) => v[name] !== '')
    .map(
      (name) =>
        `${name}: set together with ${asked}, but dev mode does not verify tokens; ` +
        `unset ${name} for dev mode, or drop DEV_MODE / NODE_ENV=development to verify tokens`,
    );
}

export const authConfig = registerAs('auth', () => buildAuthConfig(process.env));
