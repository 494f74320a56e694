import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { DiminuendoClient } from '@app/client';
import { attemptAuth } from './support/auth-attempt';
import { startGateway, runGatewayExpectingExit, type GatewayProcess } from './support/gateway-process';
import { JwksServer, newKey } from './support/jwks-server';

const AUDIENCE = 'diminuendo-api';

describe('authentication in production mode', () => {
  let jwks: JwksServer;
  let gw: GatewayProcess;

  beforeAll(async () => {
    jwks = await new JwksServer().start();
    gw = await startGateway({
      NODE_ENV: 'production',
      AUTH_URL: jwks.url,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_CLIENT_SECRET: 'client-secret-value-that-must-not-be-logged',
      ALLOWED_ORIGINS: 'https://app.example.com',
      AUTH_RATE_LIMIT_MAX: '5',
      AUTH_RATE_LIMIT_WINDOW_MS: '3000',
      AUTH_JWKS_COOLDOWN_MS: '60000',
      AUTH_TIMEOUT_MS: '1500',
      LOG_LEVEL: 'debug',
    });
  });
  afterAll(async () => {
    await gw.stop();
    await jwks.stop();
  });

  /** Each attack comes from its own loopback address so the per-IP limiter does not interfere. */
  let ipCounter = 10;
  const nextIp = () => `127.0.0.${ipCounter++}`;

  const attempt = (token: string, localAddress = nextIp()) => attemptAuth(gw.url, token, localAddress);

  it('announces requiresAuth and accepts a valid RS256 token with a tenant claim', async () => {
    const c = await DiminuendoClient.connect(gw.url, {
      token: jwks.sign({ sub: 'auth0|alice', email: 'alice@acme.test' }),
    });
    expect(c.welcome).toEqual({ type: 'welcome', protocolVersion: 1, requiresAuth: true });
    expect(c.identity).toEqual({
      userId: 'auth0|alice',
      email: 'alice@acme.test',
      tenantId: 'acme',
      role: 'member',
    });
    await c.close();
  });

  it('falls back to org_id for the tenant and refuses a token without a valid tenant', async () => {
    const orgToken = jwks.sign({ tenant_id: undefined, org_id: 'org_42' });
    const c = await DiminuendoClient.connect(gw.url, { token: orgToken, localAddress: nextIp() });
    expect(c.identity?.tenantId).toBe('org_42');
    await c.close();
    expect(await attempt(jwks.sign({ tenant_id: undefined }))).toMatchObject({
      ok: false,
      code: 'AUTH_FAILED',
    });
    expect(await attempt(jwks.sign({ tenant_id: '../etc' }))).toMatchObject({
      ok: false,
      code: 'AUTH_FAILED',
    });
  });

  it('rejects every forged or invalid token with AUTH_FAILED', async () => {
    const key = jwks.keys[0];
    const now = Math.floor(Date.now() / 1000);
    const base = { sub: 'auth0|mallory', tenant_id: 'acme', iss: jwks.issuer, aud: AUDIENCE };
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const publicPem = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const valid = jwks.sign({ sub: 'auth0|mallory' });
    const [h, p, s] = valid.split('.');
    const tampered = `${h}.${b64({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), tenant_id: 'other' })}.${s}`;
    const attacks: Record<string, string> = {
      algNone: `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...base, exp: now + 600 })}.`,
      hs256WithPublicKey: `${b64({ alg: 'HS256', typ: 'JWT', kid: key.kid })}.${b64({ ...base, exp: now + 600 })}.${require('node:crypto')
        .createHmac('sha256', publicPem)
        .update(`${b64({ alg: 'HS256', typ: 'JWT', kid: key.kid })}.${b64({ ...base, exp: now + 600 })}`)
        .digest('base64url')}`,
      expired: jwks.sign({}, { expiresIn: -120 }),
      notYetValid: jwks.sign({}, { notBefore: 600 }),
      wrongIssuer: jwks.sign({}, { issuer: 'https://evil.example.com/' }),
      wrongAudience: jwks.sign({}, { audience: 'someone-else' }),
      unknownKid: jwks.sign({}, { key: newKey('never-published') }),
      tampered,
      garbage: 'not-a-jwt',
    };
    for (const [name, token] of Object.entries(attacks)) {
      const result = await attempt(token);
      expect({ name, ...result }).toEqual({ name, ok: false, code: 'AUTH_FAILED', retryAfterMs: undefined });
    }
    // jsonwebtoken would accept HS256 if we let it: make sure the forged token is otherwise well-formed.
    expect(jwt.decode(attacks.hs256WithPublicKey)).toMatchObject({ sub: 'auth0|mallory' });
  });

  it('refetches the JWKS at most once per cooldown for unknown kids, and rotates keys without restart', async () => {
    const before = jwks.fetches;
    for (let i = 0; i < 5; i++) {
      expect(await attempt(jwks.sign({}, { key: newKey(`unknown-${i}`) }))).toMatchObject({
        code: 'AUTH_FAILED',
      });
    }
    expect(jwks.fetches - before).toBeLessThanOrEqual(1);

    // A restart-free rotation: a new key is published while the old one keeps working.
    const gw2 = await startGateway({
      NODE_ENV: 'production',
      AUTH_URL: jwks.url,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_JWKS_COOLDOWN_MS: '0',
    });
    try {
      const c1 = await DiminuendoClient.connect(gw2.url, { token: jwks.sign({ sub: 'auth0|a' }) });
      const rotated = newKey('rotated-key');
      jwks.keys = [rotated, ...jwks.keys];
      const c2 = await DiminuendoClient.connect(gw2.url, {
        token: jwks.sign({ sub: 'auth0|b' }, { key: rotated }),
      });
      expect(c2.identity?.userId).toBe('auth0|b');
      await Promise.all([c1.close(), c2.close()]);
    } finally {
      jwks.keys = jwks.keys.filter((k) => k.kid !== 'rotated-key');
      await gw2.stop();
    }
  });

  it('limits failed attempts per IP with AUTH_RATE_LIMITED and retryAfterMs, other IPs unaffected', async () => {
    const ip = nextIp();
    const results: { ok: boolean; code?: string; retryAfterMs?: number }[] = [];
    for (let i = 0; i < 7; i++) results.push(await attempt('bad-token', ip));
    expect(results.slice(0, 5).every((r) => r.code === 'AUTH_FAILED')).toBe(true);
    expect(results[5].code).toBe('AUTH_RATE_LIMITED');
    expect(results[5].retryAfterMs).toBeGreaterThan(0);
    expect(results[5].retryAfterMs).toBeLessThanOrEqual(3000);
    // Even a valid token is refused from that IP until the window passes…
    expect((await attempt(jwks.sign(), ip)).code).toBe('AUTH_RATE_LIMITED');
    // …while another address authenticates normally.
    expect((await attempt(jwks.sign())).ok).toBe(true);
    await new Promise((r) => setTimeout(r, results[6].retryAfterMs! + 100));
    expect((await attempt(jwks.sign(), ip)).ok).toBe(true);
  });

  it('refuses anything but authenticate and ping before authentication, and keeps the socket open', async () => {
    const c = await DiminuendoClient.connect(gw.url, { authenticate: false, localAddress: nextIp() });
    await expect(c.request({ type: 'list_sessions' })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(c.request({ type: 'ping' })).resolves.toMatchObject({ type: 'pong' });
    await expect(c.request({ type: 'authenticate', token: jwks.sign() })).resolves.toMatchObject({
      type: 'authenticated',
    });
    await expect(c.request({ type: 'list_sessions' })).resolves.toMatchObject({ type: 'session_list' });
    await c.close();
  });

  it('closes a socket that does not authenticate before the deadline with 4001', async () => {
    const c = await DiminuendoClient.connect(gw.url, { authenticate: false, localAddress: nextIp() });
    const { code } = await c.closed;
    expect(code).toBe(4001);
  });

  it('refuses a foreign Origin at upgrade with 403 and accepts an allowed one', async () => {
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/ws`, {
        headers: { Origin: 'https://evil.example.com' },
      });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    expect(refused).toBe(403);
    const crossSiteNoOrigin = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/ws`, {
        headers: { 'Sec-Fetch-Site': 'cross-site' },
      });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    expect(crossSiteNoOrigin).toBe(403);
    const ok = await DiminuendoClient.connect(gw.url, {
      token: jwks.sign(),
      headers: { Origin: 'https://app.example.com' },
      localAddress: nextIp(),
    });
    expect(ok.identity?.tenantId).toBe('acme');
    await ok.close();
  });

  it('guards HTTP endpoints with the same verifier through passport-jwt', async () => {
    expect((await fetch(`${gw.url}/api/v1/me`)).status).toBe(401);
    const bad = await fetch(`${gw.url}/api/v1/me`, {
      headers: { Authorization: `Bearer ${jwks.sign({}, { expiresIn: -120 })}` },
    });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ statusCode: 401, code: 'AUTH_FAILED' });
    const good = await fetch(`${gw.url}/api/v1/me`, {
      headers: { Authorization: `Bearer ${jwks.sign({ sub: 'auth0|http' })}` },
    });
    expect(good.status).toBe(200);
    expect(await good.json()).toEqual({
      userId: 'auth0|http',
      email: 'user@example.com',
      tenantId: 'acme',
      role: 'member',
    });
  });

  it('never writes tokens or secrets to its logs', () => {
    const logs = gw.output.join('\n');
    expect(logs).not.toContain('client-secret-value-that-must-not-be-logged');
    expect(logs).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/);
    // Production logs are JSON lines with level, message and timestamp.
    const line = JSON.parse(gw.output.find((l) => l.includes('configuration summary'))!);
    expect(line).toMatchObject({
      level: 'INFO',
      message: 'configuration summary',
      AUTH_CLIENT_SECRET: 'set',
    });
    expect(line.timestamp).toMatch(/^\d{4}-\d\d-\d\dT/);
  });
});

describe('configuration validation', () => {
  it('stops with a message naming the variable on a bad value', async () => {
    const port = await runGatewayExpectingExit({ PORT: 'eighty' });
    expect(port.code).toBe(1);
    expect(port.output).toContain('PORT');
    const level = await runGatewayExpectingExit({ LOG_LEVEL: 'loud' });
    expect(level.code).toBe(1);
    expect(level.output).toContain('LOG_LEVEL');
    const devMode = await runGatewayExpectingExit({ DEV_MODE: 'maybe' });
    expect(devMode.code).toBe(1);
    expect(devMode.output).toContain('DEV_MODE');
  });

  it('refuses to start in production without AUTH_URL', async () => {
    const res = await runGatewayExpectingExit({ NODE_ENV: 'production', AUTH_AUDIENCE: AUDIENCE });
    expect(res.code).toBe(1);
    expect(res.output).toContain('AUTH_URL');
  });

  it('applies production rules when NODE_ENV is unset: no AUTH_URL refuses, pointing at npm run start:dev', async () => {
    const res = await runGatewayExpectingExit({ AUTH_AUDIENCE: AUDIENCE });
    expect(res.code).toBe(1);
    expect(res.output).toContain('AUTH_URL');
    expect(res.output).toContain('npm run start:dev');
    expect(res.output).not.toContain('Gateway listening');
  });

  it('refuses DEV_MODE=true together with AUTH_URL', async () => {
    const res = await runGatewayExpectingExit({
      DEV_MODE: 'true',
      AUTH_URL: 'https://tenant.example.com',
      AUTH_AUDIENCE: AUDIENCE,
    });
    expect(res.code).toBe(1);
    expect(res.output).toMatch(/AUTH_URL: set together with DEV_MODE=true/);
  });

  it('refuses production without an audience, naming AUTH_AUDIENCE and AUTH_CLIENT_ID', async () => {
    const res = await runGatewayExpectingExit({
      NODE_ENV: 'production',
      AUTH_URL: 'https://tenant.example.com',
    });
    expect(res.code).toBe(1);
    expect(res.output).toContain('AUTH_AUDIENCE');
    expect(res.output).toContain('AUTH_CLIENT_ID');
  });
});

describe('bind address', () => {
  it('listens on 127.0.0.1 in dev mode unless HOST is set, and on every interface in production', async () => {
    const dev = await startGateway({ NODE_ENV: 'development', HOST: '' });
    try {
      expect(dev.output.join('\n')).toMatch(/Gateway listening on 127\.0\.0\.1:\d+ \(dev mode/);
      expect(dev.output.join('\n')).not.toContain('anyone who reaches this address');
    } finally {
      await dev.stop();
    }
    // Asked for explicitly: served, with a warning.
    const published = await startGateway({ DEV_MODE: 'true', HOST: '0.0.0.0' });
    try {
      expect(published.output.join('\n')).toMatch(/Gateway listening on 0\.0\.0\.0:\d+ \(dev mode/);
      expect(published.output.join('\n')).toContain('anyone who reaches this address is owner of tenant dev');
    } finally {
      await published.stop();
    }
    const prod = await startGateway({
      NODE_ENV: 'production',
      HOST: '',
      AUTH_URL: 'http://127.0.0.1:9',
      AUTH_AUDIENCE: AUDIENCE,
    });
    try {
      expect(prod.output.join('\n')).toMatch(/Gateway listening on 0\.0\.0\.0:\d+/);
    } finally {
      await prod.stop();
    }
  });
});

describe('tenant claim in production', () => {
  let jwks: JwksServer;
  let gw: GatewayProcess;
  const CLAIM = 'https://app.example.com/tenant_id';

  beforeAll(async () => {
    jwks = await new JwksServer().start();
    gw = await startGateway({
      NODE_ENV: 'production',
      AUTH_URL: jwks.url,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_TENANT_CLAIM: CLAIM,
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await jwks?.stop();
  });

  it('takes the tenant from the exact configured claim only; a look-alike claim is refused', async () => {
    const good = await attemptAuth(gw.url, jwks.sign({ tenant_id: undefined, [CLAIM]: 'acme' }), '127.0.1.1');
    expect(good).toMatchObject({ ok: true });
    const c = await DiminuendoClient.connect(gw.url, {
      token: jwks.sign({ tenant_id: 'ignored', [CLAIM]: 'acme' }),
      localAddress: '127.0.1.2',
    });
    expect(c.identity?.tenantId).toBe('acme');
    await c.close();
    const lookAlikes: Record<string, unknown>[] = [
      { tenant_id: undefined, 'https://evil/tenant_id': 'acme' },
      { tenant_id: 'acme' },
      { tenant_id: undefined, 'https://app.example.com/tenant_id/': 'acme' },
    ];
    for (const [i, claims] of lookAlikes.entries()) {
      expect(await attemptAuth(gw.url, jwks.sign(claims), `127.0.2.${i + 1}`)).toMatchObject({
        ok: false,
        code: 'AUTH_FAILED',
      });
    }
  });
});
