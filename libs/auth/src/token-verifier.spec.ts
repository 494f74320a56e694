import { createHmac, sign } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { ConfigValidationError } from '@app/common';
import { DomainError } from '@app/protocol';
import { JwksServer, newKey } from '../../../test/support/jwks-server';
import type { AuthConfig } from './auth.config';
import type { IssuerSpec, TokenIssuer } from './token-issuer';
import { TokenIssuers } from './token-issuers';
import { TokenVerifier } from './token-verifier';

beforeAll(() => Logger.overrideLogger(false));

const AUDIENCE_A = 'diminuendo-api';
const AUDIENCE_B = 'partner-api';

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
    issuers: [],
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

/** A configured issuer served by a real JWKS endpoint. */
function issuerOf(server: JwksServer, audience: string, more: Partial<TokenIssuer> = {}): TokenIssuer {
  return {
    issuer: server.issuer,
    jwksUri: `${server.url}/.well-known/jwks.json`,
    audience,
    tenantClaim: 'tenant_id',
    rolesClaim: '',
    source: 'test',
    ...more,
  };
}

function verifierOf(c: AuthConfig, contributed: IssuerSpec[] = []): TokenVerifier {
  return new TokenVerifier(c, new TokenIssuers(c, contributed));
}

async function authFailed(p: Promise<unknown>): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DomainError);
  expect((err as DomainError).code).toBe('AUTH_FAILED');
}

describe('TokenVerifier with two issuers, each with its own JWKS endpoint', () => {
  let a: JwksServer;
  let b: JwksServer;
  /** A: tenant_id; B: its own audience, tenant claim `org` and roles claim. */
  const twoIssuers = (overrides: Partial<AuthConfig> = {}) =>
    config({
      issuers: [
        issuerOf(a, AUDIENCE_A),
        issuerOf(b, AUDIENCE_B, { tenantClaim: 'org', rolesClaim: 'groups' }),
      ],
      ...overrides,
    });
  const signB = (claims: Record<string, unknown> = {}, options: Parameters<JwksServer['sign']>[1] = {}) =>
    b.sign({ tenant_id: 'not-read', org: 'partner_co', ...claims }, { audience: AUDIENCE_B, ...options });

  beforeAll(async () => {
    [a, b] = await Promise.all([new JwksServer().start(), new JwksServer().start()]);
  });
  afterAll(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });

  it("verifies each issuer's tokens with its keys and maps them with its claim names", async () => {
    const verifier = verifierOf(twoIssuers());
    await expect(verifier.verify(a.sign({ sub: 'auth0|a', org: 'not-read' }))).resolves.toMatchObject({
      userId: 'auth0|a',
      tenantId: 'acme',
      claimedRoles: [],
    });
    await expect(verifier.verify(signB({ sub: 'p|b', groups: ['admin'] }))).resolves.toMatchObject({
      userId: 'p|b',
      tenantId: 'partner_co',
      claimedRoles: ['admin'],
    });
    // B's tenant claim falls back to org_id like the primary's.
    await expect(verifier.verify(signB({ org: undefined, org_id: 'org_7' }))).resolves.toMatchObject({
      tenantId: 'org_7',
    });
  });

  it("refuses a token that claims one issuer but is signed with the other's key, even under its kid", async () => {
    const verifier = verifierOf(twoIssuers());
    const bKeyUnderAKid = { ...b.keys[0], kid: a.keys[0].kid };
    const aKeyUnderBKid = { ...a.keys[0], kid: b.keys[0].kid };
    await authFailed(verifier.verify(b.sign({}, { issuer: a.issuer, audience: AUDIENCE_A })));
    await authFailed(
      verifier.verify(b.sign({}, { issuer: a.issuer, audience: AUDIENCE_A, key: bKeyUnderAKid })),
    );
    await authFailed(verifier.verify(signB({}, { key: aKeyUnderBKid })));
    await authFailed(verifier.keyForToken('not-a-jwt'));
    await expect(verifier.keyForToken(signB())).resolves.toContain('PUBLIC KEY');
  });

  it('refuses a token of an issuer not listed (exact match) before fetching any key set', async () => {
    const verifier = verifierOf(twoIssuers());
    const before = [a.fetches, b.fetches];
    for (const issuer of ['https://unknown.example.com/', a.url, `${b.issuer}x`, a.issuer.toUpperCase()]) {
      await authFailed(verifier.verify(a.sign({}, { issuer, key: newKey() })));
      await authFailed(verifier.keyForToken(a.sign({}, { issuer })));
    }
    expect([a.fetches, b.fetches]).toEqual(before);
  });

  it("holds each issuer to its own audience: B's tokens for A's audience fail, and the reverse", async () => {
    const verifier = verifierOf(twoIssuers());
    await authFailed(verifier.verify(signB({}, { audience: AUDIENCE_A })));
    await authFailed(verifier.verify(signB({}, { audience: 'someone-else' })));
    await authFailed(verifier.verify(a.sign({}, { audience: AUDIENCE_B })));
  });

  it('rejects alg none, HS256 with the public key, expired and not-yet-valid tokens of the extra issuer', async () => {
    const verifier = verifierOf(twoIssuers());
    const now = Math.floor(Date.now() / 1000);
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const body = b64({ sub: 'p|m', org: 'partner_co', iss: b.issuer, aud: AUDIENCE_B, exp: now + 600 });
    const pem = b.keys[0].publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const hs = b64({ alg: 'HS256', typ: 'JWT', kid: b.keys[0].kid });
    for (const token of [
      `${b64({ alg: 'none', typ: 'JWT' })}.${body}.`,
      `${hs}.${body}.${createHmac('sha256', pem).update(`${hs}.${body}`).digest('base64url')}`,
      signB({}, { expiresIn: -120 }),
      signB({}, { notBefore: 600 }),
    ]) {
      await authFailed(verifier.verify(token));
    }
  });

  it("refetches only the named issuer's key set for an unknown kid, at most once per cooldown", async () => {
    const verifier = verifierOf(twoIssuers({ jwksCooldownMs: 60_000 }));
    await verifier.verify(signB());
    const before = [a.fetches, b.fetches];
    for (let i = 0; i < 5; i++) await authFailed(verifier.verify(signB({}, { key: newKey(`unknown-${i}`) })));
    expect(a.fetches - before[0]).toBe(0);
    expect(b.fetches - before[1]).toBe(0);
    // The other issuer has its own cooldown: its first unknown kid still refetches its set once.
    await authFailed(verifier.verify(a.sign({}, { key: newKey('unknown-a') })));
    expect(a.fetches - before[0]).toBe(1);
  });

  it('rotates the keys of one issuer without a restart', async () => {
    const verifier = verifierOf(twoIssuers({ jwksCooldownMs: 0 }));
    await verifier.verify(signB({ sub: 'p|before' }));
    const rotated = newKey('rotated-b');
    b.keys = [rotated, ...b.keys];
    try {
      await expect(verifier.verify(signB({ sub: 'p|after' }, { key: rotated }))).resolves.toMatchObject({
        userId: 'p|after',
      });
      // A does not know B's new key.
      await authFailed(verifier.verify(a.sign({}, { key: rotated })));
    } finally {
      b.keys = b.keys.filter((k) => k.kid !== 'rotated-b');
    }
  });

  it("never answers a token from the cache with another issuer's verification", async () => {
    const verifier = verifierOf(twoIssuers());
    const valid = a.sign({ sub: 'auth0|cached' });
    await verifier.verify(valid);
    // The same header and claims signed by B's key under A's kid: another token, verified on its own.
    const [header, payload] = valid.split('.');
    const bSignature = sign('sha256', Buffer.from(`${header}.${payload}`), b.keys[0].privateKey);
    await authFailed(verifier.verify(`${header}.${payload}.${bSignature.toString('base64url')}`));
    await expect(verifier.verify(valid)).resolves.toMatchObject({ userId: 'auth0|cached' });
  });

  it('trusts an issuer contributed by an extension like a configured one', async () => {
    const verifier = verifierOf(config({ issuers: [issuerOf(a, AUDIENCE_A)], tenantClaim: 'org' }), [
      { issuer: b.issuer, jwksUri: `${b.url}/.well-known/jwks.json`, audience: AUDIENCE_B },
    ]);
    // Its tenant claim defaults to AUTH_TENANT_CLAIM.
    await expect(verifier.verify(signB())).resolves.toMatchObject({ tenantId: 'partner_co' });
    await authFailed(verifier.verify(signB({}, { audience: AUDIENCE_A })));
  });
});

describe('TokenIssuers', () => {
  const primary: TokenIssuer = {
    issuer: 'https://tenant.example.com/',
    jwksUri: 'https://tenant.example.com/.well-known/jwks.json',
    audience: AUDIENCE_A,
    tenantClaim: 'tenant_id',
    rolesClaim: '',
    source: 'AUTH_URL',
  };
  const contributed = { issuer: 'https://idp.example/', jwksUri: 'https://idp.example/keys', audience: 'x' };

  it('finds an issuer by its exact iss only', () => {
    const issuers = new TokenIssuers(config({ issuers: [primary] }), [contributed]);
    expect(issuers.find('https://tenant.example.com/')?.config).toBe(primary);
    expect(issuers.find('https://idp.example/')?.config).toMatchObject({
      ...contributed,
      tenantClaim: 'tenant_id',
      source: 'extension issuer[0]',
    });
    for (const iss of ['https://tenant.example.com', 'HTTPS://TENANT.EXAMPLE.COM/', undefined, 7, ['x']]) {
      expect(issuers.find(iss)).toBeUndefined();
    }
  });

  it('passes the issuer, its audience and the clock tolerance to jsonwebtoken, RS256 only', () => {
    const issuers = new TokenIssuers(config({ issuers: [primary], clockToleranceS: 5 }));
    expect(issuers.find(primary.issuer)!.verifyOptions()).toEqual({
      algorithms: ['RS256'],
      issuer: primary.issuer,
      audience: AUDIENCE_A,
      clockTolerance: 5,
    });
  });

  it('refuses a contributed issuer that is already configured, or without an audience, naming it', () => {
    const refusal = (specs: IssuerSpec[]) => {
      try {
        new TokenIssuers(config({ issuers: [primary] }), specs);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigValidationError);
        return (err as Error).message;
      }
      throw new Error('expected a refusal');
    };
    expect(refusal([{ ...contributed, issuer: primary.issuer }])).toContain(
      `extension issuer[0].issuer: "${primary.issuer}" is already configured by AUTH_URL`,
    );
    expect(refusal([contributed, { ...contributed, audience: '' }])).toContain(
      'extension issuer[1].audience: required',
    );
  });

  it('trusts nobody in dev mode, whatever an extension contributes', () => {
    const issuers = new TokenIssuers(config({ devMode: true }), [contributed]);
    expect(issuers.all()).toEqual([]);
  });
});

describe('TokenVerifier without a trusted issuer', () => {
  const verifier = verifierOf(config());

  it.each([['not a jwt'], [''], ['a.b.c']])('rejects %p with AUTH_FAILED', async (token) => {
    await authFailed(verifier.verify(token));
  });

  it('refuses an HS256 token before looking for an issuer', async () => {
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const token = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ sub: 'u', tenant_id: 't', iss: 'x' })}.sig`;
    await authFailed(verifier.verify(token));
  });
});
