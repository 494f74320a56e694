import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { AuthIdentity } from '@app/auth';
import { ShardMap } from '../../cluster/shard-map';

/**
 * Runs after HttpAuthGuard: a request whose tenant this instance does not serve (SHARD_TENANTS) is
 * answered 421 TENANT_NOT_SERVED, before the handler opens anything of that tenant.
 */
@Injectable()
export class TenantShardGuard implements CanActivate {
  constructor(private readonly shards: ShardMap) {}

  canActivate(context: ExecutionContext): boolean {
    const identity = context.switchToHttp().getRequest<{ user?: AuthIdentity }>().user;
    if (identity) this.shards.admit(identity);
    return true;
  }
}
