import { Injectable } from '@nestjs/common';
import type { AuthIdentity } from '@app/auth';
import { LastOwnerError, MemberNotFoundError, MembersRepository, type MemberRow } from '@app/persistence';
import {
  DomainError,
  ForbiddenError,
  mayGrant,
  type Member,
  type MemberListEvent,
  type Role,
} from '@app/protocol';
import { ConnectionService } from '../connection/connection.service';

/**
 * Tenant membership (manage_members and the admin API): list, add, change role, remove. A role may be
 * granted, and a member holding it changed or removed, only by someone whose permissions are a superset
 * of that role's (`mayGrant`): an admin can neither hand out `billing_admin` (billing:write) nor demote
 * or remove a billing admin. The last owner can be neither removed nor demoted (MembersRepository keeps
 * that rule inside each change's transaction).
 */
@Injectable()
export class MembersService {
  constructor(
    private readonly members: MembersRepository,
    private readonly connections: ConnectionService,
  ) {}

  async list(actor: AuthIdentity): Promise<MemberListEvent> {
    const rows = await this.members.list(actor.tenantId);
    return { type: 'member_list', members: rows.map(toMember) };
  }

  async add(actor: AuthIdentity, userId: string, role: Role = 'member', email?: string): Promise<Member> {
    this.assertMayGrant(actor, role);
    const row = await domainErrors(
      this.members.put(actor.tenantId, userId, { role, email, addedBy: actor.userId }, (current) =>
        this.assertMayGrant(actor, current),
      ),
    );
    this.connections.updateRole(actor.tenantId, userId, role);
    return toMember(row);
  }

  async updateRole(actor: AuthIdentity, userId: string, role: Role): Promise<Member> {
    this.assertMayGrant(actor, role);
    const row = await domainErrors(
      this.members.changeRole(actor.tenantId, userId, role, (current) => this.assertMayGrant(actor, current)),
    );
    this.connections.updateRole(actor.tenantId, userId, role);
    return toMember(row);
  }

  async remove(actor: AuthIdentity, userId: string): Promise<void> {
    await domainErrors(
      this.members.remove(actor.tenantId, userId, (current) => this.assertMayGrant(actor, current)),
    );
    this.connections.updateRole(actor.tenantId, userId, 'member');
  }

  /** `role` is the role to grant, or the one a member holds now (a stored string). */
  private assertMayGrant(actor: AuthIdentity, role: string): void {
    if (!mayGrant(actor.role, role))
      throw new ForbiddenError('You cannot manage a role with permissions you do not hold');
  }
}

/** The repository's refusals as the protocol's coded errors. */
async function domainErrors<T>(change: Promise<T>): Promise<T> {
  try {
    return await change;
  } catch (err) {
    if (err instanceof MemberNotFoundError) throw new DomainError('MEMBER_NOT_FOUND');
    if (err instanceof LastOwnerError) throw new DomainError('LAST_OWNER');
    throw err;
  }
}

export function toMember(row: MemberRow): Member {
  return {
    userId: row.userId,
    ...(row.email ? { email: row.email } : {}),
    role: row.role,
    createdAt: Number(row.createdAt),
    updatedAt: Number(row.updatedAt),
  };
}
