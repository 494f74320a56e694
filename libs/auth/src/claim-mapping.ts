import type { JwtPayload } from 'jsonwebtoken';
import { isSafeId, type TenantId } from '@app/common';
import type { VerifiedClaims } from './identity';

/** The claim names of one issuer (AUTH_TENANT_CLAIM / AUTH_ROLES_CLAIM, or its own). */
export interface ClaimNames {
  tenantClaim: string;
  rolesClaim: string;
}

export type MappedClaims = { ok: true; claims: VerifiedClaims } | { ok: false; reason: string };

/**
 * Maps the claims of a verified token to the identity fields, or says why it cannot (no subject, no
 * valid tenant): the caller turns that reason into AUTH_FAILED.
 */
export function mapClaims(payload: JwtPayload, names: ClaimNames): MappedClaims {
  const userId = typeof payload.sub === 'string' ? payload.sub : '';
  const tenant = tenantClaim(payload, names.tenantClaim);
  if (!userId) return { ok: false, reason: 'token has no subject' };
  if (!isSafeId(tenant)) return { ok: false, reason: 'token has no valid tenant claim' };
  const claims: VerifiedClaims = {
    userId,
    email: typeof payload.email === 'string' ? payload.email : '',
    tenantId: tenant as TenantId,
    claimedRoles: rolesClaim(payload, names.rolesClaim),
    expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined,
  };
  return { ok: true, claims };
}

/**
 * The claim named exactly `name` (Auth0 custom claims are namespaced: configure the full name, e.g.
 * `https://app.example.com/tenant_id`), else Auth0's `org_id`. No other claim is read: a look-alike
 * such as `https://evil/tenant_id` must not choose the tenant.
 */
function tenantClaim(payload: JwtPayload, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  return Object.hasOwn(payload, 'org_id') ? payload.org_id : undefined;
}

function rolesClaim(payload: JwtPayload, name: string): string[] {
  if (!name) return [];
  const value = payload[name];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}
