/** Roles and the permission matrix of protocol.md §6.2. */
export const ROLES = ['owner', 'admin', 'billing_admin', 'member', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
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
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const ALL: readonly Permission[] = PERMISSIONS;
const SESSION_USER: readonly Permission[] = [
  'session:create',
  'session:read',
  'session:write',
  'session:archive',
  'session:steer',
];

export const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  owner: new Set(ALL),
  admin: new Set<Permission>([
    ...SESSION_USER,
    'session:delete',
    'member:read',
    'member:write',
    'billing:read',
  ]),
  billing_admin: new Set<Permission>([...SESSION_USER, 'billing:read', 'billing:write']),
  member: new Set(SESSION_USER),
  viewer: new Set<Permission>(['session:read']),
};

/**
 * Higher is more privileged; used only to pick the strongest role named by a roles claim. It is not an
 * authority for granting: `billing_admin` ranks below `admin` yet holds `billing:write`, which `admin`
 * lacks. Who may grant what is `mayGrant`.
 */
export const ROLE_RANK: Readonly<Record<Role, number>> = {
  viewer: 0,
  member: 1,
  billing_admin: 2,
  admin: 3,
  owner: 4,
};

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function can(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].has(permission);
}

/**
 * Whether a holder of `actor` may grant, change or remove `role` (a member's role or an API key's): only
 * when `actor`'s permissions are a superset of `role`'s, so nobody gains, or hands out, a permission they
 * lack. A stored value that is not a known role is managed only by a role holding every permission.
 */
export function mayGrant(actor: Role, role: string): boolean {
  const held = ROLE_PERMISSIONS[actor];
  const wanted: Iterable<Permission> = isRole(role) ? ROLE_PERMISSIONS[role] : PERMISSIONS;
  for (const permission of wanted) if (!held.has(permission)) return false;
  return true;
}
