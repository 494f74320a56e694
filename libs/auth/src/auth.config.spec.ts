import { ConfigValidationError } from '@app/common';
import { buildAuthConfig } from './auth.config';

function failure(env: NodeJS.ProcessEnv): ConfigValidationError {
  try {
    buildAuthConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigValidationError);
    return err as ConfigValidationError;
  }
  throw new Error('expected buildAuthConfig to throw');
}

const AUTH = { AUTH_URL: 'https://tenant.auth0.com', AUTH_AUDIENCE: 'api://gw' };
const DEV = { NODE_ENV: 'development' };

describe('buildAuthConfig (spec README "JWT verification", "Dev mode")', () => {
  it('refuses production without AUTH_URL, naming AUTH_URL and npm run start:dev', () => {
    for (const env of [
      { NODE_ENV: 'production' },
      { NODE_ENV: 'production', AUTH_URL: '' },
      { NODE_ENV: 'production', DEV_MODE: 'false' },
      {},
      { NODE_ENV: '' },
      { NODE_ENV: 'staging' },
    ]) {
      const message = failure({ ...env, AUTH_AUDIENCE: 'api://gw' }).message;
      expect(message).toContain('AUTH_URL');
      expect(message).toContain('npm run start:dev');
    }
  });

  it('refuses production without an audience, naming AUTH_AUDIENCE and AUTH_CLIENT_ID', () => {
    const message = failure({ AUTH_URL: 'https://tenant.auth0.com' }).message;
    expect(message).toContain('AUTH_AUDIENCE');
    expect(message).toContain('AUTH_CLIENT_ID');
    expect(buildAuthConfig({ AUTH_URL: 'https://tenant.auth0.com', AUTH_CLIENT_ID: 'cid' }).audience).toBe(
      'cid',
    );
  });

  it('accepts production with AUTH_URL and an audience (NODE_ENV unset or production)', () => {
    for (const env of [{ NODE_ENV: 'production', ...AUTH }, AUTH]) {
      const c = buildAuthConfig(env);
      expect(c.devMode).toBe(false);
      expect(c.issuer).toBe('https://tenant.auth0.com/');
    }
  });

  it('refuses dev mode together with AUTH_URL, naming both', () => {
    const flag = failure({ NODE_ENV: 'production', DEV_MODE: 'true', ...AUTH }).message;
    expect(flag).toContain('AUTH_URL');
    expect(flag).toContain('DEV_MODE=true');
    const nodeEnv = failure({ ...DEV, ...AUTH }).message;
    expect(nodeEnv).toContain('AUTH_URL');
    expect(nodeEnv).toContain('NODE_ENV=development');
  });

  it('accepts production without AUTH_URL when DEV_MODE=true', () => {
    const c = buildAuthConfig({ NODE_ENV: 'production', DEV_MODE: 'true' });
    expect(c.devMode).toBe(true);
    expect(c.issuer).toBe('');
    expect(c.jwksUri).toBe('');
  });

  it('needs no AUTH_URL in development', () => {
    const c = buildAuthConfig(DEV);
    expect(c.devMode).toBe(true);
    expect(c.authUrl).toBe('');
    expect(c.issuer).toBe('');
    expect(c.jwksUri).toBe('');
  });

  it.each([
    ['https://tenant.auth0.com', 'https://tenant.auth0.com/'],
    ['https://tenant.auth0.com/', 'https://tenant.auth0.com/'],
    ['https://tenant.auth0.com///', 'https://tenant.auth0.com/'],
    ['http://localhost:9000/realms/x', 'http://localhost:9000/realms/x/'],
    ['http://localhost:9000/realms/x/', 'http://localhost:9000/realms/x/'],
  ])('issuer for %s has exactly one trailing slash', (url, issuer) => {
    const c = buildAuthConfig({ AUTH_URL: url, AUTH_AUDIENCE: 'api://gw' });
    expect(c.issuer).toBe(issuer);
    expect(c.issuer.endsWith('//')).toBe(false);
    expect(c.jwksUri).toBe(`${issuer}.well-known/jwks.json`);
  });

  it('uses AUTH_AUDIENCE when set, else AUTH_CLIENT_ID, else no audience', () => {
    const url = 'https://tenant.auth0.com';
    expect(
      buildAuthConfig({ AUTH_URL: url, AUTH_AUDIENCE: 'api://gw', AUTH_CLIENT_ID: 'cid' }).audience,
    ).toBe('api://gw');
    expect(buildAuthConfig({ AUTH_URL: url, AUTH_CLIENT_ID: 'cid' }).audience).toBe('cid');
    expect(buildAuthConfig({ AUTH_URL: url, AUTH_AUDIENCE: '', AUTH_CLIENT_ID: 'cid' }).audience).toBe('cid');
    expect(buildAuthConfig(DEV).audience).toBe('');
  });

  it('applies the documented defaults', () => {
    const c = buildAuthConfig(DEV);
    expect(c).toMatchObject({
      clockToleranceS: 30,
      tenantClaim: 'tenant_id',
      rolesClaim: '',
      rateLimitMax: 10,
      rateLimitWindowMs: 60_000,
      cacheMax: 10_000,
      cacheTtlMs: 300_000,
      allowedOrigins: [],
      trustProxy: 0,
      clientSecretSet: false,
      redisUrl: '',
      redisKeyPrefix: 'diminuendo',
    });
  });

  it('reads REDIS_URL (redis:// or rediss://) and REDIS_KEY_PREFIX', () => {
    const c = buildAuthConfig({ ...DEV, REDIS_URL: 'redis://:pw@redis:6379/2', REDIS_KEY_PREFIX: 'gw-eu' });
    expect(c.redisUrl).toBe('redis://:pw@redis:6379/2');
    expect(c.redisKeyPrefix).toBe('gw-eu');
    expect(buildAuthConfig({ ...DEV, REDIS_URL: 'rediss://cache.internal' }).redisUrl).toBe(
      'rediss://cache.internal',
    );
    expect(buildAuthConfig({ ...DEV, REDIS_URL: '' }).redisUrl).toBe('');
  });

  it('reads the remaining variables', () => {
    const c = buildAuthConfig({
      ...DEV,
      AUTH_CLIENT_SECRET: 'shh',
      AUTH_TENANT_CLAIM: 'org',
      AUTH_ROLES_CLAIM: 'https://x/roles',
      JWT_CACHE_MAX: '0',
      ALLOWED_ORIGINS: 'https://a.example, https://b.example',
      TRUST_PROXY: 'true',
    });
    expect(c.clientSecretSet).toBe(true);
    expect(JSON.stringify(c)).not.toContain('shh');
    expect(c.tenantClaim).toBe('org');
    expect(c.rolesClaim).toBe('https://x/roles');
    expect(c.cacheMax).toBe(0);
    expect(c.allowedOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(c.trustProxy).toBe(1);
  });

  it.each([
    ['true', 1],
    ['TRUE', 1],
    ['false', 0],
    ['0', 0],
    ['1', 1],
    ['2', 2],
    ['32', 32],
  ])('reads TRUST_PROXY=%p as %p trusted hops', (value, hops) => {
    expect(buildAuthConfig({ NODE_ENV: 'development', TRUST_PROXY: value }).trustProxy).toBe(hops);
  });

  it.each([
    ['AUTH_URL', 'not a url'],
    ['AUTH_URL', 'ftp://tenant.auth0.com'],
    ['AUTH_URL', 'tenant.auth0.com'],
    ['JWT_CACHE_TTL_MS', '600000'],
    ['AUTH_CLOCK_TOLERANCE_S', '-1'],
    ['TRUST_PROXY', 'maybe'],
    ['TRUST_PROXY', '-1'],
    ['TRUST_PROXY', '1.5'],
    ['TRUST_PROXY', '33'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['REDIS_URL', '127.0.0.1:6379'],
    ['REDIS_KEY_PREFIX', 'has space'],
  ])('rejects %s=%p naming the variable', (name, value) => {
    expect(failure({ [name]: value }).message).toContain(name);
  });
});

describe('AUTH_EXTRA_ISSUERS', () => {
  const partner = {
    issuer: 'https://idp.partner.example/',
    jwksUri: 'https://idp.partner.example/keys',
    audience: 'partner-api',
  };
  const withExtra = (value: unknown, env: NodeJS.ProcessEnv = AUTH) =>
    ({ ...env, AUTH_EXTRA_ISSUERS: typeof value === 'string' ? value : JSON.stringify(value) }) as const;

  it('lists AUTH_URL as the only issuer when unset, with its audience and claim names', () => {
    const c = buildAuthConfig({ ...AUTH, AUTH_TENANT_CLAIM: 'org', AUTH_ROLES_CLAIM: 'roles' });
    expect(c.issuers).toEqual([
      {
        issuer: 'https://tenant.auth0.com/',
        jwksUri: 'https://tenant.auth0.com/.well-known/jwks.json',
        audience: 'api://gw',
        tenantClaim: 'org',
        rolesClaim: 'roles',
        source: 'AUTH_URL',
      },
    ]);
    expect(buildAuthConfig(DEV).issuers).toEqual([]);
  });

  it("adds each entry after AUTH_URL's issuer; claim names default to the primary's", () => {
    const c = buildAuthConfig({
      ...withExtra([partner, { ...partner, issuer: 'other', tenantClaim: 'org', rolesClaim: 'grp' }]),
      AUTH_TENANT_CLAIM: 'https://app/tenant',
    });
    expect(c.issuers.map((i) => [i.issuer, i.tenantClaim, i.rolesClaim, i.source])).toEqual([
      ['https://tenant.auth0.com/', 'https://app/tenant', '', 'AUTH_URL'],
      ['https://idp.partner.example/', 'https://app/tenant', '', 'AUTH_EXTRA_ISSUERS[0]'],
      ['other', 'org', 'grp', 'AUTH_EXTRA_ISSUERS[1]'],
    ]);
    expect(c.issuers[1]).toMatchObject({ jwksUri: partner.jwksUri, audience: 'partner-api' });
    // The primary's own fields are unchanged.
    expect(c).toMatchObject({ issuer: 'https://tenant.auth0.com/', audience: 'api://gw' });
  });

  it.each([
    ['not JSON', '[{', 'AUTH_EXTRA_ISSUERS: not valid JSON'],
    ['an object, not an array', partner, 'AUTH_EXTRA_ISSUERS: a JSON array'],
    ['an entry that is not an object', ['https://idp/'], 'AUTH_EXTRA_ISSUERS[0]: an object'],
    ['no audience', [{ ...partner, audience: undefined }], 'AUTH_EXTRA_ISSUERS[0].audience: required'],
    ['an empty audience', [{ ...partner, audience: '' }], 'AUTH_EXTRA_ISSUERS[0].audience: required'],
    ['no issuer', [{ ...partner, issuer: '' }], 'AUTH_EXTRA_ISSUERS[0].issuer: required'],
    [
      'a jwksUri that is not http(s)',
      [{ ...partner, jwksUri: 'ftp://x/keys' }],
      'AUTH_EXTRA_ISSUERS[0].jwksUri',
    ],
    ['no jwksUri', [{ ...partner, jwksUri: undefined }], 'AUTH_EXTRA_ISSUERS[0].jwksUri'],
    ['an unknown field', [{ ...partner, jwks_uri: 'x' }], 'AUTH_EXTRA_ISSUERS[0].jwks_uri'],
    ['an empty tenantClaim', [{ ...partner, tenantClaim: '' }], 'AUTH_EXTRA_ISSUERS[0].tenantClaim'],
    [
      "AUTH_URL's issuer again",
      [{ ...partner, issuer: 'https://tenant.auth0.com/' }],
      'AUTH_EXTRA_ISSUERS[0].issuer: "https://tenant.auth0.com/" is already configured by AUTH_URL',
    ],
    [
      'the same issuer twice',
      [partner, partner],
      `AUTH_EXTRA_ISSUERS[1].issuer: "${partner.issuer}" is already configured by AUTH_EXTRA_ISSUERS[0]`,
    ],
  ])('refuses %s, naming the variable', (_name, value, message) => {
    expect(failure(withExtra(value)).message).toContain(message);
  });

  it('refuses it in dev mode, which verifies no token', () => {
    expect(failure(withExtra([partner], DEV)).message).toContain(
      'AUTH_EXTRA_ISSUERS: set together with NODE_ENV=development',
    );
  });

  it('reports every problem of every entry at once', () => {
    const problems = failure(withExtra([{ issuer: 'a' }, { ...partner, audience: 7 }])).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('AUTH_EXTRA_ISSUERS[0].jwksUri'),
        expect.stringContaining('AUTH_EXTRA_ISSUERS[0].audience'),
        expect.stringContaining('AUTH_EXTRA_ISSUERS[1].audience'),
      ]),
    );
  });
});
