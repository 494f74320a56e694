import { Logger } from '@nestjs/common';
import type { JwtPayload } from 'jsonwebtoken';
import { DomainError } from '@app/protocol';
import type { AuthConfig } from './auth.config';
import { TokenVerifier } from './token-verifier';

beforeAll(() => Logger.overrideLogger(false));

function config(overrides: Partial<AuthConfig> = {}): AuthConfig {
  return {
    devMode: false,
    authUrl: 'https://tenant.example.com',
    issuer: 'https://tenant.example.com/',
    jwksUri: '',
    audience: '',
    clientSecretSet: false,
    clockToleranceS: 30,
    tenantClaim: 'tenant_id',
    rolesClaim: '',
    rateLimitMax: 10,
    rateLimitWindowMs: 60_000,
    jwksCooldownMs: 30_000,
    cacheMax: 100,
    cacheTtlMs: 300_000,
    allowedOrigins: [],
    trustProxy: 0,
    redisUrl: '',
    redisKeyPrefix: 'diminuendo',
    ...overrides,
  };
}

function authFailed(fn: () => unknown): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(DomainError);
  expect((thrown as DomainError).code).toBe('AUTH_FAILED');
}

describe('TokenVerifier.claimsFrom', () => {
  const verifier = new TokenVerifier(config());

  it('maps sub, email, tenant and exp', () => {
    const claims = verifier.claimsFrom({
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
    const claims = verifier.claimsFrom({ sub: 'u', tenant_id: 't1', email: 42 } as JwtPayload);
    expect(claims.expiresAt).toBeUndefined();
    expect(claims.email).toBe('');
  });

  it.each([
    ['missing', { tenant_id: 't1' }],
    ['empty', { sub: '', tenant_id: 't1' }],
    ['not a string', { sub: 7, tenant_id: 't1' }],
  ])('fails with AUTH_FAILED when sub is %s', (_name, payload) => {
    authFailed(() => verifier.claimsFrom(payload as JwtPayload));
  });

  describe('tenant claim precedence', () => {
    it('prefers the configured claim over a namespaced one and org_id', () => {
      const claims = verifier.claimsFrom({
        sub: 'u',
        tenant_id: 'plain',
        'https://example.com/tenant_id': 'namespaced',
        org_id: 'org',
      });
      expect(claims.tenantId).toBe('plain');
    });

    it('never takes a look-alike namespaced …/tenant_id claim: only the exact name, then org_id', () => {
      const claims = verifier.claimsFrom({
        sub: 'u',
        'https://evil/tenant_id': 'victim',
        org_id: 'org',
      });
      expect(claims.tenantId).toBe('org');
      authFailed(() => verifier.claimsFrom({ sub: 'u', 'https://evil/tenant_id': 'victim' }));
    });

    it('takes a namespaced claim when that exact name is configured', () => {
      const ns = new TokenVerifier(config({ tenantClaim: 'https://app.example.com/tenant_id' }));
      expect(
        ns.claimsFrom({
          sub: 'u',
          'https://app.example.com/tenant_id': 'acme',
          'https://evil/tenant_id': 'victim',
          tenant_id: 'plain',
        }).tenantId,
      ).toBe('acme');
      expect(ns.claimsFrom({ sub: 'u', 'https://evil/tenant_id': 'victim', org_id: 'org' }).tenantId).toBe(
        'org',
      );
    });

    it('does not read inherited properties as claims', () => {
      authFailed(() => new TokenVerifier(config({ tenantClaim: 'constructor' })).claimsFrom({ sub: 'u' }));
    });

    it('falls back to org_id', () => {
      expect(verifier.claimsFrom({ sub: 'u', org_id: 'org_abc123' }).tenantId).toBe('org_abc123');
    });

    it('does not take a claim that merely ends in the same letters', () => {
      const claims = verifier.claimsFrom({
        sub: 'u',
        'https://example.com/other_tenant_id': 'wrong',
        org_id: 'org',
      });
      expect(claims.tenantId).toBe('org');
    });

    it('fails with AUTH_FAILED when there is no tenant at all', () => {
      authFailed(() => verifier.claimsFrom({ sub: 'u', email: 'a@b.c' }));
    });

    it('honours a configured claim name, and only that name', () => {
      const custom = new TokenVerifier(config({ tenantClaim: 'workspace' }));
      expect(custom.claimsFrom({ sub: 'u', workspace: 'ws1', tenant_id: 'ignored' }).tenantId).toBe('ws1');
      expect(
        custom.claimsFrom({ sub: 'u', 'https://x.io/workspace': 'ws2', org_id: 'org', tenant_id: 'ignored' })
          .tenantId,
      ).toBe('org');
      expect(custom.claimsFrom({ sub: 'u', tenant_id: 'ignored', org_id: 'org' }).tenantId).toBe('org');
    });

    it('does not fall back when the configured claim is present but unsafe', () => {
      authFailed(() => verifier.claimsFrom({ sub: 'u', tenant_id: '../etc', org_id: 'safe' }));
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
  ])('rejects a tenant id that is %s with AUTH_FAILED', (_name, tenant) => {
    authFailed(() => verifier.claimsFrom({ sub: 'u', tenant_id: tenant } as JwtPayload));
    authFailed(() => verifier.claimsFrom({ sub: 'u', org_id: tenant } as JwtPayload));
  });

  it('accepts a tenant id of 128 safe characters', () => {
    const id = 'aZ0_-'.repeat(25) + 'abc';
    expect(id).toHaveLength(128);
    expect(verifier.claimsFrom({ sub: 'u', tenant_id: id }).tenantId).toBe(id);
  });

  describe('roles claim', () => {
    const withRoles = new TokenVerifier(config({ rolesClaim: 'https://example.com/roles' }));

    it('reads a single role string', () => {
      expect(
        withRoles.claimsFrom({ sub: 'u', tenant_id: 't', 'https://example.com/roles': 'admin' }).claimedRoles,
      ).toEqual(['admin']);
    });

    it('reads an array and drops non-strings', () => {
      const payload = {
        sub: 'u',
        tenant_id: 't',
        'https://example.com/roles': ['member', 3, null, 'owner'],
      } as JwtPayload;
      expect(withRoles.claimsFrom(payload).claimedRoles).toEqual(['member', 'owner']);
    });

    it.each([[undefined], [42], [{ role: 'owner' }], [true]])('yields no roles for %p', (value) => {
      const payload = { sub: 'u', tenant_id: 't', 'https://example.com/roles': value } as JwtPayload;
      expect(withRoles.claimsFrom(payload).claimedRoles).toEqual([]);
    });

    it('ignores role claims when no roles claim is configured', () => {
      expect(
        verifier.claimsFrom({ sub: 'u', tenant_id: 't', roles: ['owner'], '': 'owner' }).claimedRoles,
      ).toEqual([]);
    });
  });
});

describe('TokenVerifier without a key source', () => {
  const verifier = new TokenVerifier(config());

  it('passes the configured issuer and audience to jsonwebtoken, RS256 only', () => {
    const withAudience = new TokenVerifier(config({ audience: 'api://gw', clockToleranceS: 5 }));
    expect(withAudience.verifyOptions()).toEqual({
      algorithms: ['RS256'],
      issuer: 'https://tenant.example.com/',
      audience: 'api://gw',
      clockTolerance: 5,
    });
    expect(verifier.verifyOptions().audience).toBeUndefined();
  });

  it.each([['not a jwt'], [''], ['a.b.c']])('rejects %p with AUTH_FAILED', async (token) => {
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'AUTH_FAILED' });
  });

  it('refuses an HS256 token before looking for keys', async () => {
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const token = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ sub: 'u', tenant_id: 't' })}.sig`;
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    expect(verifier.fetchCount).toBe(0);
  });
});
