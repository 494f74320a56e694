import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { asTenantId } from '@app/common';
import { MembersRepository, TenantRegistry } from '@app/persistence';
import { RoleResolver, strongestRole } from './role-resolver';

describe('strongestRole', () => {
  it.each([
    [[], undefined],
    [['member'], 'member'],
    [['viewer', 'member'], 'member'],
    [['member', 'viewer'], 'member'],
    [['billing_admin', 'member'], 'billing_admin'],
    [['admin', 'billing_admin'], 'admin'],
    [['billing_admin', 'admin'], 'admin'],
    [['viewer', 'owner', 'admin'], 'owner'],
    [['root', 'superuser'], undefined],
    [['Owner', 'ADMIN', ' member'], undefined],
    [['god', 'viewer', '__proto__', 'toString'], 'viewer'],
  ])('%p → %p', (values, expected) => {
    expect(strongestRole(values)).toBe(expected);
  });
});

describe('RoleResolver on a real tenant registry', () => {
  let dir: string;
  let registry: TenantRegistry;
  let resolver: RoleResolver;
  const tenant = asTenantId('acme');

  beforeAll(async () => {
    Logger.overrideLogger(false);
    dir = mkdtempSync(join(tmpdir(), 'role-resolver-'));
    registry = new TenantRegistry({
      dataDir: dir,
      writeBatchMs: 50,
      writeBatchSize: 100,
      registryCache: 2,
      sessionCache: 2,
    });
    const members = new MembersRepository(registry);
    resolver = new RoleResolver(members);
    await members.put(tenant, 'u-admin', { role: 'admin', addedBy: null });
    await members.put(tenant, 'u-viewer', { role: 'viewer', addedBy: null });
    await members.put(tenant, 'u-bogus', { role: 'emperor', addedBy: null });
  });

  afterAll(async () => {
    await registry.closeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets the member row decide, over any claim', async () => {
    expect(await resolver.resolve(tenant, 'u-admin', ['owner'])).toBe('admin');
    expect(await resolver.resolve(tenant, 'u-viewer', ['owner', 'admin'])).toBe('viewer');
  });

  it('uses the strongest claimed role without a member row', async () => {
    expect(await resolver.resolve(tenant, 'stranger', ['viewer', 'billing_admin'])).toBe('billing_admin');
  });

  it('defaults to member without a row or a usable claim', async () => {
    expect(await resolver.resolve(tenant, 'stranger', [])).toBe('member');
    expect(await resolver.resolve(tenant, 'stranger', ['root'])).toBe('member');
  });

  it('ignores a member row holding an unknown role', async () => {
    expect(await resolver.resolve(tenant, 'u-bogus', ['viewer'])).toBe('viewer');
    expect(await resolver.resolve(tenant, 'u-bogus', [])).toBe('member');
  });
});
