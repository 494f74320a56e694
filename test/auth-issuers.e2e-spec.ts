import { createHmac } from 'node:crypto';
import { DiminuendoClient } from '@app/client';
import { attemptAuth } from './support/auth-attempt';
import {
  PARTNER_ISSUER_ENTRY,
  runGatewayExpectingExit,
  startGateway,
  type GatewayProcess,
} from './support/gateway-process';
import { JwksServer, newKey } from './support/jwks-server';

/** Issuer A is AUTH_URL's (tenant_id claim); issuer B is a second identity provider (org claim). */
const AUDIENCE_A = 'diminuendo-api';
const AUDIENCE_B = 'partner-api';

const issuerB = (b: JwksServer) => ({
  issuer: b.issuer,
  jwksUri: `${b.url}/.well-known/jwks.json`,
  audience: AUDIENCE_B,
  tenantClaim: 'org',
});

/** Each attempt comes from its own loopback address so the per-IP limiter does not interfere. */
let ipCounter = 10;
const nextIp = () => `127.0.1.${ipCounter++}`;

describe('two token issuers in production mode (AUTH_EXTRA_ISSUERS)', () => {
  let a: JwksServer;
  let b: JwksServer;
  let gw: GatewayProcess;
  const attempt = (token: string) => attemptAuth(gw.url, token, nextIp());
  const signB = (claims: Record<string, unknown> = {}, options: Parameters<JwksServer['sign']>[1] = {}) =>
    b.sign({ tenant_id: undefined, org: 'partner_co', ...claims }, { audience: AUDIENCE_B, ...options });

  beforeAll(async () => {
    [a, b] = await Promise.all([new JwksServer().start(), new JwksServer().start()]);
    gw = await startGateway({
      NODE_ENV: 'production',
      AUTH_URL: a.url,
      AUTH_AUDIENCE: AUDIENCE_A,
      AUTH_EXTRA_ISSUERS: JSON.stringify([issuerB(b)]),
      AUTH_JWKS_COOLDOWN_MS: '60000',
      AUTH_RATE_LIMIT_MAX: '1000',
      LOG_LEVEL: 'debug',
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('authenticates tokens of both issuers over /ws, each with its own tenant claim', async () => {
    const fromA = await DiminuendoClient.connect(gw.url, {
      token: a.sign({ sub: 'auth0|alice', org: 'not-read-for-a' }),
      localAddress: nextIp(),
    });
    expect(fromA.identity).toMatchObject({ userId: 'auth0|alice', tenantId: 'acme' });
    const fromB = await DiminuendoClient.connect(gw.url, {
      token: signB({ sub: 'partner|bob', tenant_id: 'not-read-for-b' }),
      localAddress: nextIp(),
    });
    expect(fromB.identity).toMatchObject({ userId: 'partner|bob', tenantId: 'partner_co' });
    await expect(fromB.request({ type: 'list_sessions' })).resolves.toMatchObject({ type: 'session_list' });
    await Promise.all([fromA.close(), fromB.close()]);
  });

  it('accepts issuer B on admin HTTP, with B held to its own audience there too', async () => {
    const me = (token: string) =>
      fetch(`${gw.url}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
    const good = await me(signB({ sub: 'partner|http' }));
    expect(good.status).toBe(200);
    expect(await good.json()).toMatchObject({ userId: 'partner|http', tenantId: 'partner_co' });
    // A's audience is trusted, but not for B's tokens.
    expect((await me(signB({}, { audience: AUDIENCE_A }))).status).toBe(401);
    expect((await me(b.sign({}, { issuer: a.issuer, audience: AUDIENCE_A }))).status).toBe(401);
  });

  it("refuses a token that claims one issuer but is signed by the other's key", async () => {
    const bKeyWithAKid = { ...b.keys[0], kid: a.keys[0].kid };
    const aKeyWithBKid = { ...a.keys[0], kid: b.keys[0].kid };
    const forged = {
      claimsAsignedByB: b.sign({}, { issuer: a.issuer, audience: AUDIENCE_A }),
      claimsAsignedByBunderAKid: b.sign({}, { issuer: a.issuer, audience: AUDIENCE_A, key: bKeyWithAKid }),
      claimsBsignedByAunderBKid: a.sign(
        { tenant_id: undefined, org: 'partner_co' },
        { issuer: b.issuer, audience: AUDIENCE_B, key: aKeyWithBKid },
      ),
    };
    for (const [name, token] of Object.entries(forged)) {
      expect({ name, ...(await attempt(token)) }).toMatchObject({ name, ok: false, code: 'AUTH_FAILED' });
    }
  });

  it('refuses a token of an issuer not listed without fetching any key set', async () => {
    const before = [a.fetches, b.fetches];
    const stranger = newKey();
    for (const iss of ['https://unknown.example.com/', a.url, `${b.issuer}x`, b.issuer.toUpperCase()]) {
      const token = a.sign({}, { issuer: iss, key: stranger });
      expect(await attempt(token)).toMatchObject({ ok: false, code: 'AUTH_FAILED' });
    }
    expect([a.fetches, b.fetches]).toEqual(before);
  });

  it("refuses issuer B's tokens with a wrong audience, including A's", async () => {
    for (const audience of [AUDIENCE_A, 'someone-else']) {
      expect(await attempt(signB({}, { audience }))).toMatchObject({ ok: false, code: 'AUTH_FAILED' });
    }
  });

  it("rejects the R5 attacks against issuer B, and refetches only B's key set for its unknown kids", async () => {
    const key = b.keys[0];
    const now = Math.floor(Date.now() / 1000);
    const base = {
      sub: 'partner|mallory',
      org: 'partner_co',
      iss: b.issuer,
      aud: AUDIENCE_B,
      exp: now + 600,
    };
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const publicPem = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const hsHead = b64({ alg: 'HS256', typ: 'JWT', kid: key.kid });
    const attacks: Record<string, string> = {
      algNone: `${b64({ alg: 'none', typ: 'JWT' })}.${b64(base)}.`,
      hs256WithPublicKey: `${hsHead}.${b64(base)}.${createHmac('sha256', publicPem)
        .update(`${hsHead}.${b64(base)}`)
        .digest('base64url')}`,
      expired: signB({}, { expiresIn: -120 }),
      notYetValid: signB({}, { notBefore: 600 }),
      noTenant: signB({ org: undefined }),
    };
    for (const [name, token] of Object.entries(attacks)) {
      expect({ name, ...(await attempt(token)) }).toMatchObject({ name, ok: false, code: 'AUTH_FAILED' });
    }
    const before = [a.fetches, b.fetches];
    for (let i = 0; i < 4; i++) {
      expect(await attempt(signB({}, { key: newKey(`unknown-${i}`) }))).toMatchObject({
        code: 'AUTH_FAILED',
      });
    }
    expect(a.fetches - before[0]).toBe(0);
    expect(b.fetches - before[1]).toBeLessThanOrEqual(1);
  });

  it('lists the extra issuer in the configuration summary', () => {
    const line = JSON.parse(gw.output.find((l) => l.includes('configuration summary'))!);
    expect(line.extraIssuers).toEqual([`${b.issuer} (aud ${AUDIENCE_B})`]);
  });
});

describe('AUTH_EXTRA_ISSUERS validation', () => {
  const production = {
    NODE_ENV: 'production',
    AUTH_URL: 'https://tenant.example.com',
    AUTH_AUDIENCE: AUDIENCE_A,
  };
  const refusal = async (value: string) => {
    const res = await runGatewayExpectingExit({ ...production, AUTH_EXTRA_ISSUERS: value });
    expect(res.code).toBe(1);
    expect(res.output).not.toContain('Gateway listening');
    return res.output;
  };

  it('refuses to start on a bad entry, naming the variable and the field', async () => {
    expect(await refusal('[{"issuer": "https://idp.example.com/"')).toContain(
      'AUTH_EXTRA_ISSUERS: not valid JSON',
    );
    const noAudience = await refusal(
      JSON.stringify([{ issuer: 'https://idp.example.com/', jwksUri: 'https://idp.example.com/jwks.json' }]),
    );
    expect(noAudience).toContain('AUTH_EXTRA_ISSUERS[0].audience: required');
    const again = await refusal(
      JSON.stringify([
        { issuer: 'https://tenant.example.com/', jwksUri: 'https://x.example.com/jwks', audience: 'api' },
      ]),
    );
    expect(again).toContain(
      'AUTH_EXTRA_ISSUERS[0].issuer: "https://tenant.example.com/" is already configured by AUTH_URL',
    );
  });

  it('refuses AUTH_EXTRA_ISSUERS in dev mode', async () => {
    const res = await runGatewayExpectingExit({ NODE_ENV: 'development', AUTH_EXTRA_ISSUERS: '[]' });
    expect(res.code).toBe(1);
    expect(res.output).toContain('AUTH_EXTRA_ISSUERS: set together with NODE_ENV=development');
  });
});

describe('an issuer brought by an extension module (examples/partner-issuer)', () => {
  let a: JwksServer;
  let b: JwksServer;
  let gw: GatewayProcess;
  const partnerEnv = (b: JwksServer) => ({
    PARTNER_ISSUER: b.issuer,
    PARTNER_JWKS_URI: `${b.url}/.well-known/jwks.json`,
    PARTNER_AUDIENCE: AUDIENCE_B,
    PARTNER_TENANT_CLAIM: 'org',
  });
  const production = () => ({ NODE_ENV: 'production', AUTH_URL: a.url, AUTH_AUDIENCE: AUDIENCE_A });

  beforeAll(async () => {
    [a, b] = await Promise.all([new JwksServer().start(), new JwksServer().start()]);
    gw = await startGateway(
      { ...production(), ...partnerEnv(b), AUTH_RATE_LIMIT_MAX: '1000' },
      15_000,
      PARTNER_ISSUER_ENTRY,
    );
  });
  afterAll(async () => {
    await gw?.stop();
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it("authenticates the partner's tokens and the configured issuer's, and keeps them apart", async () => {
    const partner = b.sign(
      { sub: 'partner|carol', tenant_id: undefined, org: 'partner_co' },
      { audience: AUDIENCE_B },
    );
    const fromB = await DiminuendoClient.connect(gw.url, { token: partner, localAddress: nextIp() });
    expect(fromB.identity).toMatchObject({ userId: 'partner|carol', tenantId: 'partner_co' });
    const fromA = await DiminuendoClient.connect(gw.url, { token: a.sign(), localAddress: nextIp() });
    expect(fromA.identity).toMatchObject({ tenantId: 'acme' });
    await Promise.all([fromA.close(), fromB.close()]);
    const forged = b.sign({}, { issuer: a.issuer, audience: AUDIENCE_A });
    expect(await attemptAuth(gw.url, forged, nextIp())).toMatchObject({ ok: false, code: 'AUTH_FAILED' });
    const res = await fetch(`${gw.url}/api/v1/me`, { headers: { Authorization: `Bearer ${partner}` } });
    expect(res.status).toBe(200);
  });

  it('refuses to start when the extension brings an issuer that is already configured', async () => {
    const res = await runGatewayExpectingExit(
      {
        ...production(),
        ...partnerEnv(b),
        AUTH_EXTRA_ISSUERS: JSON.stringify([issuerB(b)]),
      },
      PARTNER_ISSUER_ENTRY,
    );
    expect(res.code).toBe(1);
    expect(res.output).toContain(
      `extension issuer[0].issuer: "${b.issuer}" is already configured by AUTH_EXTRA_ISSUERS[0]`,
    );
  });
});
