import {
  can,
  isRole,
  mayGrant,
  PERMISSIONS,
  ROLE_PERMISSIONS,
  ROLE_RANK,
  ROLES,
  type Permission,
  type Role,
} from './roles';

/**
 * protocol.md §6.2, transcribed column by column (Y = granted). Kept as literal text so that a change
 * to the code's matrix cannot silently change the expectation.
 */
const COLUMNS: Permission[] = [
  'session:create',
  'session:read',
  'session:write',
  'session:delete',
  'session:archive',
  'session:steer',
  'member:read',
  'member:write',
  'member:delete',
  'billing:read',
  'billing:write',
  'tenant:admin',
];
const MATRIX: Record<Role, string> = {
  //             s:c s:r s:w s:d s:a s:s m:r m:w m:d b:r b:w t:a
  owner: '        Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y',
  admin: '        Y   Y   Y   Y   Y   Y   Y   Y   -   Y   -   -',
  billing_admin: 'Y   Y   Y   -   Y   Y   -   -   -   Y   Y   -',
  member: '       Y   Y   Y   -   Y   Y   -   -   -   -   -   -',
  viewer: '       -   Y   -   -   -   -   -   -   -   -   -   -',
};

const rows: [Role, Permission, boolean][] = (Object.keys(MATRIX) as Role[]).flatMap((role) => {
  const cells = MATRIX[role].trim().split(/\s+/);
  if (cells.length !== COLUMNS.length) throw new Error(`matrix row ${role} has ${cells.length} cells`);
  return cells.map((cell, i): [Role, Permission, boolean] => [role, COLUMNS[i], cell === 'Y']);
});

describe('roles and permissions (protocol.md §6.2)', () => {
  it('declares exactly the five roles and twelve permissions of the spec', () => {
    expect([...ROLES].sort()).toEqual(Object.keys(MATRIX).sort());
    expect([...PERMISSIONS].sort()).toEqual([...COLUMNS].sort());
    expect(rows).toHaveLength(5 * 12);
  });

  it.each(rows)('%s × %s → %s', (role, permission, granted) => {
    expect(can(role, permission)).toBe(granted);
    expect(ROLE_PERMISSIONS[role].has(permission)).toBe(granted);
  });

  it('grants a role nothing outside the twelve permissions', () => {
    for (const role of ROLES) {
      for (const p of ROLE_PERMISSIONS[role]) expect(COLUMNS).toContain(p);
    }
  });

  it('does not grant unknown permission strings', () => {
    expect(can('owner', 'session:everything' as Permission)).toBe(false);
  });
});

describe('isRole', () => {
  it.each(['owner', 'admin', 'billing_admin', 'member', 'viewer'])('accepts %s', (r) => {
    expect(isRole(r)).toBe(true);
  });

  it.each([
    ['superuser'],
    ['Owner'],
    [' owner'],
    [''],
    ['toString'],
    ['__proto__'],
    [null],
    [undefined],
    [4],
    [['owner']],
    [{ role: 'owner' }],
  ])('rejects %p', (v) => {
    expect(isRole(v)).toBe(false);
  });
});

describe('ROLE_RANK', () => {
  it('orders viewer < member < billing_admin < admin < owner', () => {
    const ordered: Role[] = ['viewer', 'member', 'billing_admin', 'admin', 'owner'];
    for (let i = 1; i < ordered.length; i++) {
      expect(ROLE_RANK[ordered[i]]).toBeGreaterThan(ROLE_RANK[ordered[i - 1]]);
    }
  });

  it('ranks every role, with no two roles sharing a rank', () => {
    expect(Object.keys(ROLE_RANK).sort()).toEqual([...ROLES].sort());
    expect(new Set(Object.values(ROLE_RANK)).size).toBe(ROLES.length);
  });

  it('gives the top rank to the only role holding tenant:admin', () => {
    const top = ROLES.reduce((a, b) => (ROLE_RANK[a] > ROLE_RANK[b] ? a : b));
    expect(top).toBe('owner');
    expect(ROLES.filter((r) => can(r, 'tenant:admin'))).toEqual(['owner']);
  });
});

describe('mayGrant (permission superset)', () => {
  /** Row: the actor; column order viewer, member, billing_admin, admin, owner (Y = may grant). */
  const GRANTS: Record<Role, string> = {
    owner: '        Y Y Y Y Y',
    admin: '        Y Y - Y -',
    billing_admin: 'Y Y Y - -',
    member: '       Y Y - - -',
    viewer: '       Y - - - -',
  };
  const order: Role[] = ['viewer', 'member', 'billing_admin', 'admin', 'owner'];
  const cases: [Role, Role, boolean][] = (Object.keys(GRANTS) as Role[]).flatMap((actor) =>
    GRANTS[actor]
      .trim()
      .split(/\s+/)
      .map((cell, i): [Role, Role, boolean] => [actor, order[i], cell === 'Y']),
  );

  it.each(cases)('%s may grant %s → %s', (actor, role, allowed) => {
    expect(mayGrant(actor, role)).toBe(allowed);
  });

  it('is exactly "every permission of the role is held by the actor"', () => {
    for (const [actor, role, allowed] of cases) {
      expect([...ROLE_PERMISSIONS[role]].every((p) => can(actor, p))).toBe(allowed);
    }
  });

  it('refuses an admin billing_admin although billing_admin ranks lower', () => {
    expect(ROLE_RANK.billing_admin).toBeLessThan(ROLE_RANK.admin);
    expect(mayGrant('admin', 'billing_admin')).toBe(false);
  });

  it('leaves an unknown stored role to a holder of every permission', () => {
    expect(mayGrant('owner', 'superuser')).toBe(true);
    expect(mayGrant('admin', 'superuser')).toBe(false);
    expect(mayGrant('admin', '__proto__')).toBe(false);
  });
});
