/**
 * Decides whether this instance serves a tenant, right after a credential is verified and before
 * anything of the tenant (its registry, its roles) is opened. Provided by the application (the shard
 * map); absent, every tenant is served. Refusing throws a DomainError (TENANT_NOT_SERVED).
 */
export interface TenantAdmission {
  admit(tenantId: string): void;
}

export const TENANT_ADMISSION = Symbol('TENANT_ADMISSION');
