import { Injectable } from '@nestjs/common';
import { MembersRepository } from '@app/persistence';
import { isRole, ROLE_RANK, type Role } from '@app/protocol';
import type { TenantId } from '@app/common';

/**
 * The role of a user in a tenant (spec README "Roles"): the member row decides; without one the roles
 * claim (most privileged known role wins); otherwise `member`.
 */
@Injectable()
export class RoleResolver {
  constructor(private readonly members: MembersRepository) {}

  async resolve(tenantId: TenantId, userId: string, claimedRoles: string[]): Promise<Role> {
    const member = await this.members.find(tenantId, userId);
    if (member && isRole(member.role)) return member.role;
    return strongestRole(claimedRoles) ?? 'member';
  }
}

export function strongestRole(values: string[]): Role | undefined {
  let best: Role | undefined;
  for (const v of values) {
    if (isRole(v) && (best === undefined || ROLE_RANK[v] > ROLE_RANK[best])) best = v;
  }
  return best;
}
