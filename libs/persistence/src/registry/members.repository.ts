import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { TenantId } from '@app/common';
import { MemberRow } from './entities';
import { TenantRegistry } from './tenant-registry.service';

/** The role whose last holder a tenant may not lose. */
const OWNER = 'owner';

/** The member does not exist in the tenant. */
export class MemberNotFoundError extends Error {
  constructor(readonly userId: string) {
    super(`member ${userId} not found`);
    this.name = 'MemberNotFoundError';
  }
}

/** The change would leave the tenant without an owner. */
export class LastOwnerError extends Error {
  constructor(readonly userId: string) {
    super(`${userId} is the tenant's last owner`);
    this.name = 'LastOwnerError';
  }
}

/**
 * Called inside the change's transaction with the role the member holds now, before anything is
 * written: throw to refuse (e.g. the actor may not manage that role).
 */
export type AuthorizeChange = (currentRole: string) => void;

export interface MemberFields {
  role: string;
  /** Kept from the existing row when omitted. */
  email?: string | null;
  /** Who added the member; an existing member keeps theirs. */
  addedBy: string | null;
}

/**
 * A tenant's members in its registry. Every change runs in one transaction on the tenant's write
 * queue and keeps the tenant's invariant inside it: a change that would leave no owner (demoting or
 * removing the last one) is refused with LastOwnerError, whatever runs concurrently.
 */
@Injectable()
export class MembersRepository {
  constructor(private readonly registry: TenantRegistry) {}

  /** In joining order. */
  list(tenantId: TenantId): Promise<MemberRow[]> {
    return this.registry.read(tenantId, (ds) =>
      ds.getRepository(MemberRow).find({ order: { createdAt: 'ASC' } }),
    );
  }

  find(tenantId: TenantId, userId: string): Promise<MemberRow | null> {
    return this.registry.read(tenantId, (ds) => ds.getRepository(MemberRow).findOneBy({ userId }));
  }

  /**
   * Adds a member, or sets an existing member's role (and email when given). `authorize` is consulted
   * only when an existing member's role changes.
   */
  put(
    tenantId: TenantId,
    userId: string,
    fields: MemberFields,
    authorize?: AuthorizeChange,
    now = Date.now(),
  ): Promise<MemberRow> {
    return this.transaction(tenantId, async (m) => {
      const existing = await m.getRepository(MemberRow).findOneBy({ userId });
      if (existing && existing.role !== fields.role) {
        authorize?.(existing.role);
        await assertKeepsOwner(m, existing, fields.role);
      }
      const row = Object.assign(new MemberRow(), {
        userId,
        email: fields.email ?? existing?.email ?? null,
        role: fields.role,
        addedBy: existing?.addedBy ?? fields.addedBy,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      });
      await m.getRepository(MemberRow).save(row);
      return row;
    });
  }

  /** Sets an existing member's role: MemberNotFoundError, or LastOwnerError for the last owner's demotion. */
  changeRole(
    tenantId: TenantId,
    userId: string,
    role: string,
    authorize?: AuthorizeChange,
    now = Date.now(),
  ): Promise<MemberRow> {
    return this.transaction(tenantId, async (m) => {
      const existing = await m.getRepository(MemberRow).findOneBy({ userId });
      if (!existing) throw new MemberNotFoundError(userId);
      authorize?.(existing.role);
      await assertKeepsOwner(m, existing, role);
      existing.role = role;
      existing.updatedAt = now;
      await m.getRepository(MemberRow).save(existing);
      return existing;
    });
  }

  /** Removes a member: MemberNotFoundError, or LastOwnerError for the last owner. */
  remove(tenantId: TenantId, userId: string, authorize?: AuthorizeChange): Promise<void> {
    return this.transaction(tenantId, async (m) => {
      const existing = await m.getRepository(MemberRow).findOneBy({ userId });
      if (!existing) throw new MemberNotFoundError(userId);
      authorize?.(existing.role);
      await assertKeepsOwner(m, existing, null);
      await m.getRepository(MemberRow).delete({ userId });
    });
  }

  private transaction<T>(tenantId: TenantId, fn: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.registry.write(tenantId, (ds) => ds.transaction(fn));
  }
}

/** Refuses to take the owner role from the tenant's only owner (`nextRole` null: removal). */
async function assertKeepsOwner(m: EntityManager, member: MemberRow, nextRole: string | null): Promise<void> {
  if (member.role !== OWNER || nextRole === OWNER) return;
  const owners = await m.getRepository(MemberRow).countBy({ role: OWNER });
  if (owners <= 1) throw new LastOwnerError(member.userId);
}
