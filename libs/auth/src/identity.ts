import type { Role } from '@app/protocol';
import type { TenantId } from '@app/common';

/** Who a verified credential speaks for. `role` is resolved against the tenant registry. */
export interface AuthIdentity {
  userId: string;
  email: string;
  tenantId: TenantId;
  role: Role;
  /** How the caller authenticated. */
  via: 'jwt' | 'api_key' | 'dev';
  /** The JWT's `exp` (unix ms); absent for API keys, the dev identity and tokens without one. */
  expiresAt?: number;
}

/** Whether two identities are the same user of the same tenant (a socket's identity is fixed to one). */
export function samePrincipal(a: { userId: string; tenantId: string }, b: AuthIdentity): boolean {
  return a.userId === b.userId && a.tenantId === b.tenantId;
}

/** The verified claims of a token before the tenant registry is consulted. */
export interface VerifiedClaims {
  userId: string;
  email: string;
  tenantId: TenantId;
  /** Roles named by the configured roles claim, if any. */
  claimedRoles: string[];
  /** Token expiry (unix ms), if the token has one. */
  expiresAt?: number;
}

export const DEV_IDENTITY: AuthIdentity = {
  userId: 'dev-user-001',
  email: 'developer@example.com',
  tenantId: 'dev' as TenantId,
  role: 'owner',
  via: 'dev',
};
