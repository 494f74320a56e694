import { createHash, randomBytes } from 'node:crypto';
import { API_KEY_PREFIX } from '@app/auth';
import { isSafeId, type TenantId } from '@app/common';

/**
 * API key format: `dim_<tenantId>_<secret>`, the secret 64 lowercase hex characters (256 random bits).
 * Tenant ids may contain `_`; the secret never does, so the last `_` separates them.
 */
const SECRET = /^[0-9a-f]{64}$/;

export function newSecret(): string {
  return randomBytes(32).toString('hex');
}

export function formatApiKey(tenantId: TenantId, secret: string): string {
  return `${API_KEY_PREFIX}${tenantId}_${secret}`;
}

/** The tenant and secret of a well-formed key, or null. */
export function parseApiKey(token: string): { tenantId: TenantId; secret: string } | null {
  if (!token.startsWith(API_KEY_PREFIX)) return null;
  const rest = token.slice(API_KEY_PREFIX.length);
  const cut = rest.lastIndexOf('_');
  if (cut <= 0) return null;
  const tenantId = rest.slice(0, cut);
  const secret = rest.slice(cut + 1);
  if (!isSafeId(tenantId) || !SECRET.test(secret)) return null;
  return { tenantId: tenantId as TenantId, secret };
}

/** What the registry stores: SHA-256 of the secret part, hex. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** The identity's userId for a key (`apikey:<id>`). */
export function apiKeyUserId(id: string): string {
  return `apikey:${id}`;
}
