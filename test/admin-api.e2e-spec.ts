import { DiminuendoClient, ProtocolError } from '@app/client';
import { can, ROLES, type Permission, type Role } from '@app/protocol';
import { adminClient, eventually, type AdminCall } from './support/admin-http';
import { startGateway, type GatewayProcess } from './support/gateway-process';
import { JwksServer } from './support/jwks-server';

const AUDIENCE = 'diminuendo-api';
const ROLES_CLAIM = 'https://diminuendo.test/roles';
const APP_ORIGIN = 'https://app.example.com';

/** Every endpoint of the admin API with the permission it needs (admin-api.md), and an acceptable body. */
const ENDPOINTS: { method: string; path: string; doc: string; permission?: Permission; body?: unknown }[] = [
  { method: 'GET', path: '/me', doc: '/api/v1/me' },
  { method: 'GET', path: '/billing', doc: '/api/v1/billing', permission: 'billing:read' },
  { method: 'GET', path: '/billing/ledger', doc: '/api/v1/billing/ledger', permission: 'billing:read' },
  {
    method: 'POST',
    path: '/billing/grants',
    doc: '/api/v1/billing/grants',
    permission: 'billing:write',
    body: { amount: 1 },
  },
  {
    method: 'POST',
    path: '/billing/adjustments',
    doc: '/api/v1/billing/adjustments',
    permission: 'billing:write',
    body: { amount: 1 },
  },
  { method: 'GET', path: '/usage', doc: '/api/v1/usage', permission: 'billing:read' },
  { method: 'GET', path: '/api-keys', doc: '/api/v1/api-keys', permission: 'tenant:admin' },
  {
    method: 'POST',
    path: '/api-keys',
    doc: '/api/v1/api-keys',
    permission: 'tenant:admin',
    body: { role: 'viewer' },
  },
  { method: 'DELETE', path: '/api-keys/unknown', doc: '/api/v1/api-keys/{id}', permission: 'tenant:admin' },
  { method: 'GET', path: '/members', doc: '/api/v1/members', permission: 'member:read' },
  {
    method: 'POST',
    path: '/members',
    doc: '/api/v1/members',
    permission: 'member:write',
    body: { userId: 'auth0|matrix-target', role: 'viewer' },
  },
  {
    method: 'PATCH',
    path: '/members/auth0%7Cmatrix-target',
    doc: '/api/v1/members/{userId}',
    permission: 'member:write',
    body: { role: 'viewer' },
  },
  {
    method: 'DELETE',
    path: '/members/auth0%7Cnobody',
    doc: '/api/v1/members/{userId}',
    permission: 'member:delete',
  },
];

describe('admin HTTP API (production auth, real gateway)', () => {
  let jwks: JwksServer;
  let gw: GatewayProcess;

  const token = (tenant: string, role: Role, sub = `auth0|${role}-${tenant}`, extra: object = {}) =>
    jwks.sign({ sub, tenant_id: tenant, [ROLES_CLAIM]: [role], ...extra }, { audience: AUDIENCE });
  const as = (tenant: string, role: Role, sub?: string): AdminCall =>
    adminClient(gw.url, token(tenant, role, sub));

  beforeAll(async () => {
    jwks = await new JwksServer().start();
    gw = await startGateway({
      NODE_ENV: 'production',
      AUTH_URL: jwks.url,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_ROLES_CLAIM: ROLES_CLAIM,
      AUTH_RATE_LIMIT_MAX: '1000',
      ALLOWED_ORIGINS: APP_ORIGIN,
      OPENAPI_ENABLED: 'true', // off by default in production
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await jwks?.stop();
  });

  it('answers 401 AUTH_FAILED on every endpoint without a valid credential', async () => {
    const forged = jwks.sign({ tenant_id: 'matrix' }, { audience: 'someone-else' });
    const expired = jwks.sign({ tenant_id: 'matrix' }, { audience: AUDIENCE, expiresIn: -120 });
    for (const credential of [undefined, 'garbage', forged, expired, `dim_matrix_${'a'.repeat(64)}`]) {
      const call = adminClient(gw.url, credential);
      for (const e of ENDPOINTS) {
        const res = await call(e.method, e.path, e.body);
        expect({ endpoint: `${e.method} ${e.path}`, credential, status: res.status, body: res.body }).toEqual(
          {
            endpoint: `${e.method} ${e.path}`,
            credential,
            status: 401,
            body: { statusCode: 401, code: 'AUTH_FAILED', message: expect.any(String) },
          },
        );
      }
    }
  });

  it('answers 403 FORBIDDEN exactly where the role lacks the permission', async () => {
    for (const role of ROLES) {
      const call = as('matrix', role);
      for (const e of ENDPOINTS) {
        const res = await call(e.method, e.path, e.body);
        const allowed = !e.permission || can(role, e.permission);
        const seen = { role, endpoint: `${e.method} ${e.path}`, status: res.status };
        if (allowed) {
          expect(seen.status).not.toBe(401);
          expect(seen.status).not.toBe(403);
          expect(res.status).toBeLessThan(500);
        } else {
          expect({ ...seen, body: res.body }).toEqual({
            ...seen,
            status: 403,
            body: { statusCode: 403, code: 'FORBIDDEN', message: expect.any(String) },
          });
        }
      }
    }
  });

  it('refuses state-changing requests from a foreign browser origin, and serves allowed origins and SDKs', async () => {
    const owner = as('csrf', 'owner');
    const foreign = await owner(
      'POST',
      '/billing/grants',
      { amount: 5 },
      { origin: 'https://evil.example.com' },
    );
    expect(foreign).toMatchObject({ status: 403, body: { statusCode: 403, code: 'ORIGIN_NOT_ALLOWED' } });
    const viaReferer = await owner('DELETE', '/members/x', undefined, {
      referer: 'https://evil.example.com/page',
    });
    expect(viaReferer.body.code).toBe('ORIGIN_NOT_ALLOWED');
    const crossSite = await owner(
      'POST',
      '/billing/grants',
      { amount: 5 },
      { 'sec-fetch-site': 'cross-site' },
    );
    expect(crossSite.body.code).toBe('ORIGIN_NOT_ALLOWED');
    expect((await owner('POST', '/billing/grants', { amount: 5 }, { origin: APP_ORIGIN })).status).toBe(201);
    expect((await owner('POST', '/billing/grants', { amount: 5 })).status).toBe(201);
    // Reads change nothing: no origin rule.
    expect((await owner('GET', '/billing', undefined, { origin: 'https://evil.example.com' })).status).toBe(
      200,
    );
    expect((await owner('GET', '/billing')).body).toMatchObject({ balance: 10, reserved: 0 });
  });

  it('validates bodies and queries: 400 VALIDATION_FAILED with details', async () => {
    const owner = as('valid', 'owner');
    const cases: [string, string, unknown, string[]][] = [
      ['POST', '/billing/grants', { amount: 0 }, ['amount']],
      ['POST', '/billing/grants', { amount: 1.5, note: 'x'.repeat(501) }, ['amount', 'note']],
      ['POST', '/billing/grants', { amount: '100' }, ['amount']],
      ['POST', '/billing/grants', { amount: 1, admin: true }, ['admin']],
      ['POST', '/billing/adjustments', { amount: 0 }, ['amount']],
      ['GET', '/billing/ledger?limit=1000', undefined, ['limit']],
      ['GET', '/billing/ledger?before=abc', undefined, ['before']],
      ['GET', '/usage?sessionId=..%2Fetc', undefined, ['sessionId']],
      ['GET', '/usage?before=!!', undefined, ['before']],
      ['POST', '/api-keys', { role: 'emperor' }, ['role']],
      ['POST', '/api-keys', {}, ['role']],
      ['POST', '/members', { role: 'admin' }, ['userId']],
      ['POST', '/members', { userId: 'u', email: 'not-an-email' }, ['email']],
      ['PATCH', '/members/u', { role: 'root' }, ['role']],
    ];
    for (const [method, path, body, fields] of cases) {
      const res = await owner(method, path, body);
      expect({ method, path, status: res.status, code: res.body.code }).toEqual({
        method,
        path,
        status: 400,
        code: 'VALIDATION_FAILED',
      });
      expect(res.body.details.map((d: any) => d.field).sort()).toEqual(fields);
      expect(typeof res.body.message).toBe('string');
    }
    const broken = await owner('POST', '/billing/grants', '{"amount": ');
    expect(broken).toMatchObject({
      status: 400,
      body: { code: 'VALIDATION_FAILED', details: [{ field: 'body' }] },
    });
    expect((await owner('GET', '/billing/ledger')).body).toEqual({ entries: [] });
  });

  it('mirrors manage_members over HTTP, with the same rules', async () => {
    const owner = as('club', 'owner', 'auth0|founder');
    // The founder makes themselves an owner member first.
    expect((await owner('POST', '/members', { userId: 'auth0|founder', role: 'owner' })).status).toBe(201);
    const added = await owner('POST', '/members', {
      userId: 'auth0|bob',
      email: 'bob@example.com',
      role: 'admin',
    });
    expect(added).toMatchObject({
      status: 201,
      body: { member: { userId: 'auth0|bob', email: 'bob@example.com', role: 'admin' } },
    });
    const list = await owner('GET', '/members');
    expect(list.body.members.map((m: any) => [m.userId, m.role])).toEqual([
      ['auth0|founder', 'owner'],
      ['auth0|bob', 'admin'],
    ]);
    // Same list as the WebSocket manage_members.
    const c = await DiminuendoClient.connect(gw.url, { token: token('club', 'owner', 'auth0|founder') });
    const ws = await c.request<any>({ type: 'manage_members', action: 'list' });
    expect(ws.members).toEqual(list.body.members);

    // Bob (an admin now, by his member row) cannot make anyone an owner.
    const bob = as('club', 'member', 'auth0|bob');
    expect((await bob('GET', '/me')).body.role).toBe('admin');
    expect(await bob('POST', '/members', { userId: 'auth0|eve', role: 'owner' })).toMatchObject({
      status: 403,
      body: { code: 'FORBIDDEN' },
    });
    expect((await bob('DELETE', '/members/auth0%7Cfounder')).status).toBe(403); // member:delete is owner-only

    const patched = await owner('PATCH', '/members/auth0%7Cbob', { role: 'member' });
    expect(patched).toMatchObject({ status: 200, body: { member: { userId: 'auth0|bob', role: 'member' } } });
    expect(await owner('PATCH', '/members/auth0%7Cfounder', { role: 'admin' })).toMatchObject({
      status: 409,
      body: { statusCode: 409, code: 'LAST_OWNER' },
    });
    expect(await owner('PATCH', '/members/auth0%7Cghost', { role: 'admin' })).toMatchObject({
      status: 404,
      body: { code: 'MEMBER_NOT_FOUND' },
    });
    const removed = await owner('DELETE', '/members/auth0%7Cbob');
    expect(removed.status).toBe(204);
    expect(removed.body).toBeUndefined();
    expect((await owner('DELETE', '/members/auth0%7Cbob')).body.code).toBe('MEMBER_NOT_FOUND');
    expect(await owner('DELETE', '/members/auth0%7Cfounder')).toMatchObject({
      status: 409,
      body: { code: 'LAST_OWNER' },
    });
    expect(
      (await c.request<any>({ type: 'manage_members', action: 'list' })).members.map((m: any) => m.userId),
    ).toEqual(['auth0|founder']);
    await c.close();
  });

  it('runs the API-key lifecycle over HTTP and WebSocket: create, use, list without secret, revoke', async () => {
    const owner = as('acme', 'owner');
    const created = await owner('POST', '/api-keys', { role: 'member', label: 'ci' });
    expect(created).toMatchObject({
      status: 201,
      body: { id: expect.any(String), role: 'member', label: 'ci', createdAt: expect.any(Number) },
    });
    const { id, key } = created.body;
    expect(key).toMatch(/^dim_acme_[0-9a-f]{64}$/);
    const secret = key.slice('dim_acme_'.length);

    // WebSocket: the key authenticates with its own identity and role.
    const ws = await DiminuendoClient.connect(gw.url, { token: key });
    expect(ws.identity).toEqual({ userId: `apikey:${id}`, email: '', tenantId: 'acme', role: 'member' });
    const session = await ws.request<any>({ type: 'create_session', agentType: 'echo' });
    expect(session.session.createdBy).toBe(`apikey:${id}`);
    await expect(ws.request({ type: 'manage_members', action: 'list' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });

    // HTTP: the same key as a bearer credential, with the same role.
    const viaKey = adminClient(gw.url, key);
    expect(await viaKey('GET', '/me')).toMatchObject({
      status: 200,
      body: { userId: `apikey:${id}`, email: '', tenantId: 'acme', role: 'member' },
    });
    expect((await viaKey('GET', '/billing')).status).toBe(403);

    // Listing never shows the secret, and records when the key was used.
    const listed = await eventually(
      async () => (await owner('GET', '/api-keys')).body,
      (b) => b.keys.some((k: any) => k.id === id && k.lastUsedAt),
      5_000,
      'lastUsedAt',
    );
    const entry = listed.keys.find((k: any) => k.id === id);
    expect(entry).toEqual({
      id,
      label: 'ci',
      role: 'member',
      createdBy: 'auth0|owner-acme',
      createdAt: created.body.createdAt,
      lastUsedAt: expect.any(Number),
    });
    expect(JSON.stringify(listed)).not.toContain(secret);

    // The key does not work under another tenant's prefix, even one that exists.
    await DiminuendoClient.connect(gw.url, { token: token('globex', 'owner') }).then((c) => c.close());
    const foreign = await attempt(`dim_globex_${secret}`);
    expect(foreign).toBe('AUTH_FAILED');
    expect((await adminClient(gw.url, `dim_globex_${secret}`)('GET', '/me')).status).toBe(401);

    // Nobody but an owner (tenant:admin) issues keys, and never above their own role.
    expect((await as('acme', 'admin')('POST', '/api-keys', { role: 'viewer' })).status).toBe(403);
    expect((await viaKey('POST', '/api-keys', { role: 'member' })).status).toBe(403);

    // Revoke: the live socket is closed, and the key fails from then on.
    const revoked = await owner('DELETE', `/api-keys/${id}`);
    expect(revoked.status).toBe(204);
    expect((await ws.closed).code).toBe(1008);
    expect(await attempt(key)).toBe('AUTH_FAILED');
    expect(await viaKey('GET', '/me')).toMatchObject({ status: 401, body: { code: 'AUTH_FAILED' } });
    const after = (await owner('GET', '/api-keys')).body.keys.find((k: any) => k.id === id);
    expect(after.revokedAt).toEqual(expect.any(Number));
    expect((await owner('DELETE', `/api-keys/${id}`)).status).toBe(204);
    expect(await owner('DELETE', '/api-keys/no-such-key')).toMatchObject({
      status: 404,
      body: { statusCode: 404, code: 'API_KEY_NOT_FOUND' },
    });
  });

  it('serves an OpenAPI document that lists every endpoint, and the interactive page', async () => {
    const res = await fetch(`${gw.url}/api/docs-json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as any;
    expect(doc.openapi).toMatch(/^3\./);
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    const expected = [...new Set(ENDPOINTS.map((e) => `${e.method} ${e.doc}`))];
    expect(documented.sort()).toEqual(expected.sort());
    for (const e of ENDPOINTS) {
      const op = doc.paths[e.doc][e.method.toLowerCase()];
      expect(op.security).toEqual([{ bearer: [] }]);
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['401', '403']));
      if (e.body) expect(op.requestBody).toBeDefined();
    }
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas.GrantDto.required).toEqual(['amount']);
    const page = await fetch(`${gw.url}/api/docs`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('swagger-ui');
  });

  /** One authenticate attempt on a fresh socket; the error code, or 'ok'. */
  async function attempt(credential: string): Promise<string> {
    const c = await DiminuendoClient.connect(gw.url, { authenticate: false });
    try {
      await c.request({ type: 'authenticate', token: credential });
      return 'ok';
    } catch (err) {
      if (err instanceof ProtocolError) return err.code;
      throw err;
    } finally {
      await c.close();
    }
  }
});

describe('admin HTTP API: where the OpenAPI document is served', () => {
  it('serves neither the document nor the page in production by default', async () => {
    const gw = await startGateway({
      NODE_ENV: 'production',
      AUTH_URL: 'http://127.0.0.1:9',
      AUTH_AUDIENCE: 'diminuendo-api',
    });
    try {
      for (const path of ['/api/docs', '/api/docs-json', '/api/docs-yaml']) {
        expect({ path, status: (await fetch(`${gw.url}${path}`)).status }).toEqual({ path, status: 404 });
      }
      // The API itself is there (and wants a credential).
      expect((await fetch(`${gw.url}/api/v1/me`)).status).toBe(401);
    } finally {
      await gw.stop();
    }
  });

  it('serves the document in dev mode by default', async () => {
    const gw = await startGateway({ NODE_ENV: 'development' });
    try {
      expect((await fetch(`${gw.url}/api/docs-json`)).status).toBe(200);
    } finally {
      await gw.stop();
    }
  });

  it('serves neither the document nor the page with OPENAPI_ENABLED=false in dev mode', async () => {
    const gw = await startGateway({ NODE_ENV: 'development', OPENAPI_ENABLED: 'false' });
    try {
      expect((await fetch(`${gw.url}/api/docs-json`)).status).toBe(404);
      expect((await fetch(`${gw.url}/api/docs`)).status).toBe(404);
      // The API itself still answers (dev identity).
      expect((await fetch(`${gw.url}/api/v1/me`)).status).toBe(200);
    } finally {
      await gw.stop();
    }
  });
});
