import type { JwtPayload } from 'jsonwebtoken';
import { mapClaims, type ClaimNames } from './claim-mapping';
import type { VerifiedClaims } from './identity';

const names = (overrides: Partial<ClaimNames> = {}): ClaimNames => ({
  tenantClaim: 'tenant_id',
  rolesClaim: '',
  ...overrides,
});

/** The claims of an accepted payload (the test fails if it is refused). */
function map(payload: JwtPayload, claimNames = names()): VerifiedClaims {
  const mapped = mapClaims(payload, claimNames);
  if (!mapped.ok) throw new Error(`refused: ${mapped.reason}`);
  return mapped.claims;
}

function refused(payload: JwtPayload, claimNames = names()): void {
  expect(mapClaims(payload, claimNames)).toMatchObject({ ok: false });
}

describe('mapClaims', () => {
  it('maps sub, email, tenant and exp', () => {
    const claims = map({
      sub: 'auth0|u1',
      email: 'a@b.c',
      tenant_id: 't1',
      exp: 1_700_000_000,
    });
    expect(claims).toEqual({
      userId: 'auth0|u1',
      email: 'a@b.c',
      tenantId: 't1',
      claimedRoles: [],
      expiresAt: 1_700_000_000_000,
    });
  });

  it('leaves expiresAt undefined without exp and email empty when it is not a string', () => {
    const claims = map({ sub: 'u', tenant_id: 't1', email: 42 } as JwtPayload);
    expect(claims.expiresAt).toBeUndefined();
    expect(claims.email).toBe('');
  });

  it.each([
    ['missing', { tenant_id: 't1' }],
    ['empty', { sub: '', tenant_id: 't1' }],
    ['not a string', { sub: 7, tenant_id: 't1' }],
  ])('refuses a payload whose sub is %s', (_name, payload) => {
    refused(payload as JwtPayload);
  });

  describe('tenant claim precedence', () => {
    it('prefers the configured claim over a namespaced one and org_id', () => {
      const claims = map({
        sub: 'u',
        tenant_id: 'plain',
        'https://example.com/tenant_id': 'namespaced',
        org_id: 'org',
      });
      expect(claims.tenantId).toBe('plain');
    });

    it('never takes a look-alike namespaced …/tenant_id claim: only the exact name, then org_id', () => {
      const claims = map({
        sub: 'u',
        'https://evil/tenant_id': 'victim',
        org_id: 'org',
      });
      expect(claims.tenantId).toBe('org');
      refused({ sub: 'u', 'https://evil/tenant_id': 'victim' });
    });

    it('takes a namespaced claim when that exact name is configured', () => {
      const ns = names({ tenantClaim: 'https://app.example.com/tenant_id' });
      expect(
        map(
          {
            sub: 'u',
            'https://app.example.com/tenant_id': 'acme',
            'https://evil/tenant_id': 'victim',
            tenant_id: 'plain',
          },
          ns,
        ).tenantId,
      ).toBe('acme');
      expect(map({ sub: 'u', 'https://evil/tenant_id': 'victim', org_id: 'org' }, ns).tenantId).toBe('org');
    });

    it('does not read inherited properties as claims', () => {
      refused({ sub: 'u' }, names({ tenantClaim: 'constructor' }));
    });

    it('falls back to org_id', () => {
      expect(map({ sub: 'u', org_id: 'org_abc123' }).tenantId).toBe('org_abc123');
    });

    it('does not take a claim that merely ends in the same letters', () => {
      const claims = map({
        sub: 'u',
        'https://example.com/other_tenant_id': 'wrong',
        org_id: 'org',
      });
      expect(claims.tenantId).toBe('org');
    });

    it('refuses a payload without any tenant', () => {
      refused({ sub: 'u', email: 'a@b.c' });
    });

    it('honours a configured claim name, and only that name', () => {
      const custom = names({ tenantClaim: 'workspace' });
      expect(map({ sub: 'u', workspace: 'ws1', tenant_id: 'ignored' }, custom).tenantId).toBe('ws1');
      expect(
        map({ sub: 'u', 'https://x.io/workspace': 'ws2', org_id: 'org', tenant_id: 'ignored' }, custom)
          .tenantId,
      ).toBe('org');
      expect(map({ sub: 'u', tenant_id: 'ignored', org_id: 'org' }, custom).tenantId).toBe('org');
    });

    it('does not fall back when the configured claim is present but unsafe', () => {
      refused({ sub: 'u', tenant_id: '../etc', org_id: 'safe' });
    });
  });

  it.each([
    ['a path traversal', '../other'],
    ['a slash', 'a/b'],
    ['a backslash', 'a\\b'],
    ['a dot', 'a.b'],
    ['a space', 'a b'],
    ['an empty string', ''],
    ['a NUL byte', 'a\u0000'],
    ['129 characters', 'x'.repeat(129)],
    ['a number', 12345],
    ['an array', ['t1']],
    ['an object', { id: 't1' }],
    ['null', null],
  ])('refuses a tenant id that is %s', (_name, tenant) => {
    refused({ sub: 'u', tenant_id: tenant } as JwtPayload);
    refused({ sub: 'u', org_id: tenant } as JwtPayload);
  });

  it('accepts a tenant id of 128 safe characters', () => {
    const id = 'aZ0_-'.repeat(25) + 'abc';
    expect(id).toHaveLength(128);
    expect(map({ sub: 'u', tenant_id: id }).tenantId).toBe(id);
  });

  describe('roles claim', () => {
    const withRoles = names({ rolesClaim: 'https://example.com/roles' });

    it('reads a single role string', () => {
      expect(
        map({ sub: 'u', tenant_id: 't', 'https://example.com/roles': 'admin' }, withRoles).claimedRoles,
      ).toEqual(['admin']);
    });

    it('reads an array and drops non-strings', () => {
      const payload = {
        sub: 'u',
        tenant_id: 't',
        'https://example.com/roles': ['member', 3, null, 'owner'],
      } as JwtPayload;
      expect(map(payload, withRoles).claimedRoles).toEqual(['member', 'owner']);
    });

    it.each([[undefined], [42], [{ role: 'owner' }], [true]])('yields no roles for %p', (value) => {
      const payload = { sub: 'u', tenant_id: 't', 'https://example.com/roles': value } as JwtPayload;
      expect(map(payload, withRoles).claimedRoles).toEqual([]);
    });

    it('ignores role claims when no roles claim is configured', () => {
      expect(map({ sub: 'u', tenant_id: 't', roles: ['owner'], '': 'owner' }).claimedRoles).toEqual([]);
    });
  });
});
