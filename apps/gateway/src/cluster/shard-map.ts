import { Inject, Injectable } from '@nestjs/common';
import type { TenantAdmission } from '@app/auth';
import { TenantNotServedError } from '@app/protocol';
import type { ShardConfig } from '../config/shard.config';

export const SHARD_CONFIG = Symbol('SHARD_CONFIG');

/** Whether this instance serves a tenant; the one check made where an identity is established. */
@Injectable()
export class ShardMap implements TenantAdmission {
  private readonly tenants: Set<string>;

  constructor(@Inject(SHARD_CONFIG) private readonly config: ShardConfig) {
    this.tenants = new Set(config.tenants);
  }

  serves(tenantId: string): boolean {
    if (!this.config.restricted) return true;
    return this.tenants.has(tenantId) || this.config.prefixes.some((p) => tenantId.startsWith(p));
  }

  /** Throws TENANT_NOT_SERVED for a tenant assigned to another shard (TENANT_ADMISSION of the auth lib). */
  admit(tenantId: string): void {
    if (!this.serves(tenantId)) throw new TenantNotServedError();
  }
}
