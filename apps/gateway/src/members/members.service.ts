import { Injectable } from '@nestjs/common';
import type { AuthIdentity } from '@app/auth';
import { MemberRow, TenantRegistry } from '@app/persistence';
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
 * or remove a billing admin. The last owner can be neither removed nor demoted.
 */
@Injectable()
export class MembersService {
  constructor(
    private readonly registry: TenantRegistry,
    private readonly connections: ConnectionService,
  ) {}

  async list(actor: AuthIdentity): Promise<MemberListEvent> {
    const rows = await this.registry.listMembers(actor.tenantId);
    return { type: 'member_list', members: rows.map(toMember) };
  }

  async add(actor: AuthIdentity, userId: string, role: Role = 'member', email?: string): Promise<Member> {
    this.assertMayGrant(actor, role);
    return this.registry.write(actor.tenantId, async (ds) => {
      const repo = ds.getRepository(MemberRow);
      const existing = await repo.findOneBy({ userId });
      if (existing) {
        if (existing.role !== role) {
          this.assertMayGrant(actor, existing.role);
          await this.assertNotLastOwner(repo, existing, role);
        }
      }
      const now = Date.now();
      const row = Object.assign(new MemberRow(), {
        userId,
        email: email ?? existing?.email ?? null,
        role,
        addedBy: existing?.addedBy ?? actor.userId,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      });
      await repo.save(row);
      this.connections.updateRole(actor.tenantId, userId, role);
      return toMember(row);
    });
  }

  async updateRole(actor: AuthIdentity, userId: string, role: Role): Promise<Member> {
    this.assertMayGrant(actor, role);
    return this.registry.write(actor.tenantId, async (ds) => {
      const repo = ds.getRepository(MemberRow);
      const existing = await repo.findOneBy({ userId });
      if (!existing) throw new DomainError('MEMBER_NOT_FOUND');
      this.assertMayGrant(actor, existing.role);
      await this.assertNotLastOwner(repo, existing, role);
      existing.role = role;
      existing.updatedAt = Date.now();
      await repo.save(existing);
      this.connections.updateRole(actor.tenantId, userId, role);
      return toMember(existing);
    });
  }

  async remove(actor: AuthIdentity, userId: string): Promise<void> {
    await this.registry.write(actor.tenantId, async (ds) => {
      const repo = ds.getRepository(MemberRow);
      const existing = await repo.findOneBy({ userId });
      if (!existing) throw new DomainError('MEMBER_NOT_FOUND');
      this.assertMayGrant(actor, existing.role);
      await this.assertNotLastOwner(repo, existing, null);
      await repo.delete({ userId });
      this.connections.updateRole(actor.tenantId, userId, 'member');
    });
  }

  /** `role` is the role to grant, or the one a member holds now (a stored string). */
  private assertMayGrant(actor: AuthIdentity, role: string): void {
    if (!mayGrant(actor.role, role))
      throw new ForbiddenError('You cannot manage a role with permissions you do not hold');
  }

  private async assertNotLastOwner(
    repo: import('typeorm').Repository<MemberRow>,
    member: MemberRow,
    nextRole: Role | null,
  ): Promise<void> {
    if (member.role !== 'owner' || nextRole === 'owner') return;
    const owners = await repo.countBy({ role: 'owner' });
    if (owners <= 1) throw new DomainError('LAST_OWNER');
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
