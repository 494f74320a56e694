import { asTenantId } from '@app/common';
import { LastOwnerError, MemberNotFoundError, MembersRepository } from './members.repository';
import { useTempRegistry } from './temp-registry.spec-helper';

const temp = useTempRegistry('members-repo-', (registry) => new MembersRepository(registry));

const roles = async (tenant: string) =>
  Object.fromEntries((await temp.repo.list(asTenantId(tenant))).map((m) => [m.userId, m.role]));

describe('MembersRepository', () => {
  const t = asTenantId('members-co');

  it('starts empty', async () => {
    expect(await temp.repo.list(t)).toEqual([]);
    expect(await temp.repo.find(t, 'nobody')).toBeNull();
  });

  it('adds members, lists them in joining order, and finds one', async () => {
    await temp.repo.put(
      t,
      'u-b',
      { role: 'admin', email: 'b@example.com', addedBy: 'u-a' },
      undefined,
      2_000,
    );
    await temp.repo.put(t, 'u-a', { role: 'owner', addedBy: null }, undefined, 1_000);
    await temp.repo.put(t, 'u-c', { role: 'member', addedBy: 'u-a' }, undefined, 3_000);
    expect((await temp.repo.list(t)).map((m) => m.userId)).toEqual(['u-a', 'u-b', 'u-c']);
    expect(await temp.repo.find(t, 'u-b')).toEqual({
      userId: 'u-b',
      email: 'b@example.com',
      role: 'admin',
      addedBy: 'u-a',
      createdAt: 2_000,
      updatedAt: 2_000,
    });
  });

  it('updates an existing member in place: keeps joining time, adder and email unless given', async () => {
    const row = await temp.repo.put(t, 'u-b', { role: 'owner', addedBy: 'someone-else' }, undefined, 5_000);
    expect(row).toEqual({
      userId: 'u-b',
      email: 'b@example.com',
      role: 'owner',
      addedBy: 'u-a',
      createdAt: 2_000,
      updatedAt: 5_000,
    });
    expect(await temp.repo.list(t)).toHaveLength(3);
  });

  it('consults authorize with the current role only when a role changes, inside the change', async () => {
    const seen: string[] = [];
    await temp.repo.put(t, 'u-c', { role: 'member', addedBy: null }, (r) => seen.push(r));
    expect(seen).toEqual([]);
    const refuse = (r: string) => {
      seen.push(r);
      throw new Error('not allowed');
    };
    await expect(temp.repo.put(t, 'u-c', { role: 'viewer', addedBy: null }, refuse)).rejects.toThrow(
      'not allowed',
    );
    await expect(temp.repo.changeRole(t, 'u-c', 'viewer', refuse)).rejects.toThrow('not allowed');
    await expect(temp.repo.remove(t, 'u-c', refuse)).rejects.toThrow('not allowed');
    expect(seen).toEqual(['member', 'member', 'member']);
    expect((await temp.repo.find(t, 'u-c'))?.role).toBe('member');
  });

  it('changes a role and removes a member; an unknown member is MemberNotFoundError', async () => {
    expect(await temp.repo.changeRole(t, 'u-c', 'viewer', undefined, 6_000)).toMatchObject({
      role: 'viewer',
      updatedAt: 6_000,
    });
    await temp.repo.remove(t, 'u-c');
    expect(await temp.repo.find(t, 'u-c')).toBeNull();
    await expect(temp.repo.changeRole(t, 'u-c', 'member')).rejects.toBeInstanceOf(MemberNotFoundError);
    await expect(temp.repo.remove(t, 'u-c')).rejects.toBeInstanceOf(MemberNotFoundError);
  });

  it('refuses to demote or remove the last owner, by any of the three changes', async () => {
    const solo = asTenantId('solo-owner');
    await temp.repo.put(solo, 'boss', { role: 'owner', addedBy: null });
    await expect(temp.repo.changeRole(solo, 'boss', 'admin')).rejects.toBeInstanceOf(LastOwnerError);
    await expect(temp.repo.put(solo, 'boss', { role: 'admin', addedBy: null })).rejects.toBeInstanceOf(
      LastOwnerError,
    );
    await expect(temp.repo.remove(solo, 'boss')).rejects.toBeInstanceOf(LastOwnerError);
    // Re-granting owner to the last owner changes nothing and is allowed.
    await temp.repo.changeRole(solo, 'boss', 'owner');
    expect(await roles('solo-owner')).toEqual({ boss: 'owner' });
  });

  it('with two owners, exactly one of two concurrent demotions wins: never zero owners', async () => {
    const duo = asTenantId('two-owners');
    await temp.repo.put(duo, 'o1', { role: 'owner', addedBy: null });
    await temp.repo.put(duo, 'o2', { role: 'owner', addedBy: null });
    const results = await Promise.allSettled([
      temp.repo.changeRole(duo, 'o1', 'admin'),
      temp.repo.changeRole(duo, 'o2', 'admin'),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect((rejected[0] as PromiseRejectedResult).reason).toBeInstanceOf(LastOwnerError);
    expect(Object.values(await roles('two-owners')).filter((r) => r === 'owner')).toHaveLength(1);
  });

  it('with two owners, concurrent removal of both leaves one', async () => {
    const duo = asTenantId('two-owners-removed');
    await temp.repo.put(duo, 'o1', { role: 'owner', addedBy: null });
    await temp.repo.put(duo, 'o2', { role: 'owner', addedBy: null });
    const results = await Promise.allSettled([temp.repo.remove(duo, 'o1'), temp.repo.remove(duo, 'o2')]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(Object.values(await roles('two-owners-removed'))).toEqual(['owner']);
  });

  it('a failed change writes nothing (the check and the write are one transaction)', async () => {
    const t2 = asTenantId('atomic');
    await temp.repo.put(t2, 'o', { role: 'owner', addedBy: null }, undefined, 1_000);
    await expect(temp.repo.changeRole(t2, 'o', 'viewer', undefined, 9_000)).rejects.toBeInstanceOf(
      LastOwnerError,
    );
    expect(await temp.repo.find(t2, 'o')).toMatchObject({ role: 'owner', updatedAt: 1_000 });
  });

  it('keeps members per tenant', async () => {
    expect(await temp.repo.find(asTenantId('acme'), 'u-b')).toBeNull();
  });
});
