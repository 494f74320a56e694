import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { asTenantId } from '@app/common';
import { LastOwnerError, MemberNotFoundError, MembersRepository } from './members.repository';
import { TenantRegistry } from './tenant-registry.service';

let dataDir: string;
let registry: TenantRegistry;
let members: MembersRepository;

beforeAll(() => {
  Logger.overrideLogger(false);
  dataDir = mkdtempSync(join(tmpdir(), 'members-repo-'));
  registry = new TenantRegistry({
    dataDir,
    writeBatchMs: 50,
    writeBatchSize: 100,
    registryCache: 4,
    sessionCache: 2,
  });
  members = new MembersRepository(registry);
});

afterAll(async () => {
  await registry.closeAll();
  rmSync(dataDir, { recursive: true, force: true });
});

const roles = async (tenant: string) =>
  Object.fromEntries((await members.list(asTenantId(tenant))).map((m) => [m.userId, m.role]));

describe('MembersRepository', () => {
  const t = asTenantId('members-co');

  it('starts empty', async () => {
    expect(await members.list(t)).toEqual([]);
    expect(await members.find(t, 'nobody')).toBeNull();
  });

  it('adds members, lists them in joining order, and finds one', async () => {
    await members.put(t, 'u-b', { role: 'admin', email: 'b@example.com', addedBy: 'u-a' }, undefined, 2_000);
    await members.put(t, 'u-a', { role: 'owner', addedBy: null }, undefined, 1_000);
    await members.put(t, 'u-c', { role: 'member', addedBy: 'u-a' }, undefined, 3_000);
    expect((await members.list(t)).map((m) => m.userId)).toEqual(['u-a', 'u-b', 'u-c']);
    expect(await members.find(t, 'u-b')).toEqual({
      userId: 'u-b',
      email: 'b@example.com',
      role: 'admin',
      addedBy: 'u-a',
      createdAt: 2_000,
      updatedAt: 2_000,
    });
  });

  it('updates an existing member in place: keeps joining time, adder and email unless given', async () => {
    const row = await members.put(t, 'u-b', { role: 'owner', addedBy: 'someone-else' }, undefined, 5_000);
    expect(row).toEqual({
      userId: 'u-b',
      email: 'b@example.com',
      role: 'owner',
      addedBy: 'u-a',
      createdAt: 2_000,
      updatedAt: 5_000,
    });
    expect(await members.list(t)).toHaveLength(3);
  });

  it('consults authorize with the current role only when a role changes, inside the change', async () => {
    const seen: string[] = [];
    await members.put(t, 'u-c', { role: 'member', addedBy: null }, (r) => seen.push(r));
    expect(seen).toEqual([]);
    const refuse = (r: string) => {
      seen.push(r);
      throw new Error('not allowed');
    };
    await expect(members.put(t, 'u-c', { role: 'viewer', addedBy: null }, refuse)).rejects.toThrow(
      'not allowed',
    );
    await expect(members.changeRole(t, 'u-c', 'viewer', refuse)).rejects.toThrow('not allowed');
    await expect(members.remove(t, 'u-c', refuse)).rejects.toThrow('not allowed');
    expect(seen).toEqual(['member', 'member', 'member']);
    expect((await members.find(t, 'u-c'))?.role).toBe('member');
  });

  it('changes a role and removes a member; an unknown member is MemberNotFoundError', async () => {
    expect(await members.changeRole(t, 'u-c', 'viewer', undefined, 6_000)).toMatchObject({
      role: 'viewer',
      updatedAt: 6_000,
    });
    await members.remove(t, 'u-c');
    expect(await members.find(t, 'u-c')).toBeNull();
    await expect(members.changeRole(t, 'u-c', 'member')).rejects.toBeInstanceOf(MemberNotFoundError);
    await expect(members.remove(t, 'u-c')).rejects.toBeInstanceOf(MemberNotFoundError);
  });

  it('refuses to demote or remove the last owner, by any of the three changes', async () => {
    const solo = asTenantId('solo-owner');
    await members.put(solo, 'boss', { role: 'owner', addedBy: null });
    await expect(members.changeRole(solo, 'boss', 'admin')).rejects.toBeInstanceOf(LastOwnerError);
    await expect(members.put(solo, 'boss', { role: 'admin', addedBy: null })).rejects.toBeInstanceOf(
      LastOwnerError,
    );
    await expect(members.remove(solo, 'boss')).rejects.toBeInstanceOf(LastOwnerError);
    // Re-granting owner to the last owner changes nothing and is allowed.
    await members.changeRole(solo, 'boss', 'owner');
    expect(await roles('solo-owner')).toEqual({ boss: 'owner' });
  });

  it('with two owners, exactly one of two concurrent demotions wins: never zero owners', async () => {
    const duo = asTenantId('two-owners');
    await members.put(duo, 'o1', { role: 'owner', addedBy: null });
    await members.put(duo, 'o2', { role: 'owner', addedBy: null });
    const results = await Promise.allSettled([
      members.changeRole(duo, 'o1', 'admin'),
      members.changeRole(duo, 'o2', 'admin'),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect((rejected[0] as PromiseRejectedResult).reason).toBeInstanceOf(LastOwnerError);
    expect(Object.values(await roles('two-owners')).filter((r) => r === 'owner')).toHaveLength(1);
  });

  it('with two owners, concurrent removal of both leaves one', async () => {
    const duo = asTenantId('two-owners-removed');
    await members.put(duo, 'o1', { role: 'owner', addedBy: null });
    await members.put(duo, 'o2', { role: 'owner', addedBy: null });
    const results = await Promise.allSettled([members.remove(duo, 'o1'), members.remove(duo, 'o2')]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(Object.values(await roles('two-owners-removed'))).toEqual(['owner']);
  });

  it('a failed change writes nothing (the check and the write are one transaction)', async () => {
    const t2 = asTenantId('atomic');
    await members.put(t2, 'o', { role: 'owner', addedBy: null }, undefined, 1_000);
    await expect(members.changeRole(t2, 'o', 'viewer', undefined, 9_000)).rejects.toBeInstanceOf(
      LastOwnerError,
    );
    expect(await members.find(t2, 'o')).toMatchObject({ role: 'owner', updatedAt: 1_000 });
  });

  it('keeps members per tenant', async () => {
    expect(await members.find(asTenantId('acme'), 'u-b')).toBeNull();
  });
});
