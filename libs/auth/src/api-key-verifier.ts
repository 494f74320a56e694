import type { AuthIdentity } from './identity';

/** Verifies `dim_<tenantId>_<secret>` API keys; provided by the billing/admin module. */
export interface ApiKeyVerifier {
  verify(token: string): Promise<AuthIdentity | null>;
}

export const API_KEY_VERIFIER = Symbol('API_KEY_VERIFIER');
export const API_KEY_PREFIX = 'dim_';
