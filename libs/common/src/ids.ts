/** Ids become file paths: they must match this before they get anywhere near the filesystem. */
export const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;

declare const tenantBrand: unique symbol;
declare const sessionBrand: unique symbol;
/** A tenant id that passed validation. */
export type TenantId = string & { readonly [tenantBrand]: true };
/** A session id that the caller's tenant registry vouched for. */
export type SessionId = string & { readonly [sessionBrand]: true };

export function isSafeId(value: unknown): value is string {
  return typeof value === 'string' && SAFE_ID.test(value);
}

export function asTenantId(value: string): TenantId {
  if (!isSafeId(value)) throw new Error('invalid tenant id');
  return value as TenantId;
}
