import { DiminuendoClient, ProtocolError } from '@app/client';
import type { Role } from '@app/protocol';
import { adminClient, type AdminCall } from './support/admin-http';
import { startGateway, type GatewayProcess } from './support/gateway-process';
import { JwksServer } from './support/jwks-server';
import { uniqueName } from './support/services';

const AUDIENCE = 'diminuendo-api';
const ROLES_CLAIM = 'https://diminuendo.test/roles';

/** The error code a request answers with, or 'ok'. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof ProtocolError) return err.code;
    throw err;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('roles cannot exceed themselves; a socket keeps its identity; exp closes it (production auth)', () => {
  let jwks: JwksServer;
  let gw: GatewayProcess;
  const clients: DiminuendoClient[] = [];

  const token = (tenant: string, sub: string, role: Role = 'member', expiresIn = 3600) =>
    jwks.sign(
      { sub, tenant_id: tenant, [ROLES_CLAIM]: [role] },
      { audience: AUDIENCE, expiresIn: expiresIn },
    );
  const http = (tenant: string, sub: string, role: Role = 'member'): AdminCall =>
    adminClient(gw.url, token(tenant, sub, role));
  const connect = async (credential: string) => {
    const c = await DiminuendoClient.connect(gw.url, { token: credential });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    jwks = await new JwksServer().start();
    gw = await startGateway({
      NODE_ENV: 'production',
      AUTH_URL: jwks.url,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_ROLES_CLAIM: ROLES_CLAIM,
      AUTH_CLOCK_TOLERANCE_S: '0',
      AUTH_RATE_LIMIT_MAX: '1000',
      HEARTBEAT_INTERVAL_MS: '1000',
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gw?.stop();
    await jwks?.stop();
  });

  describe('granting roles', () => {
    let tenant: string;
    const OWNER = 'auth0|founder';
    const ADMIN = 'auth0|adm';
    const BILLER = 'auth0|biller';

    beforeAll(async () => {
      tenant = uniqueName('esc');
      const owner = http(tenant, OWNER, 'owner');
      expect((await owner('POST', '/members', { userId: OWNER, role: 'owner' })).status).toBe(201);
      // The owner holds every permission, so it may grant billing_admin.
      expect(await owner('POST', '/members', { userId: BILLER, role: 'billing_admin' })).toMatchObject({
        status: 201,
        body: { member: { userId: BILLER, role: 'billing_admin' } },
      });
      expect((await owner('POST', '/members', { userId: ADMIN, role: 'admin' })).status).toBe(201);
    });

    const roles = async () =>
      Object.fromEntries(
        (await http(tenant, OWNER, 'owner')('GET', '/members')).body.members.map((m: any) => [
          m.userId,
          m.role,
        ]),
      );

    it('refuses an admin billing_admin over WebSocket, for others and itself, and changes nothing', async () => {
      const before = await roles();
      const admin = await connect(token(tenant, ADMIN));
      expect(admin.identity?.role).toBe('admin');
      for (const userId of ['auth0|newcomer', ADMIN]) {
        expect(
          await outcome(
            admin.request({ type: 'manage_members', action: 'add', userId, role: 'billing_admin' }),
          ),
        ).toBe('FORBIDDEN');
      }
      expect(
        await outcome(
          admin.request({
            type: 'manage_members',
            action: 'update_role',
            userId: ADMIN,
            role: 'billing_admin',
          }),
        ),
      ).toBe('FORBIDDEN');
      // Demoting a billing admin would revoke billing:write, which the admin does not hold either.
      expect(
        await outcome(
          admin.request({ type: 'manage_members', action: 'update_role', userId: BILLER, role: 'member' }),
        ),
      ).toBe('FORBIDDEN');
      expect(
        await outcome(
          admin.request({ type: 'manage_members', action: 'add', userId: BILLER, role: 'viewer' }),
        ),
      ).toBe('FORBIDDEN');
      expect(await roles()).toEqual(before);
      expect(admin.identity?.role).toBe('admin');
      expect((await http(tenant, ADMIN)('GET', '/me')).body.role).toBe('admin');

      // What the admin's permissions cover still works.
      const ok = await admin.request<any>({
        type: 'manage_members',
        action: 'add',
        userId: 'auth0|helper',
        role: 'admin',
      });
      expect(ok.members.map((m: any) => [m.userId, m.role])).toContainEqual(['auth0|helper', 'admin']);
    });

    it('refuses the same over HTTP with 403 FORBIDDEN and the admin error body', async () => {
      const before = await roles();
      const admin = http(tenant, ADMIN);
      const forbidden = {
        status: 403,
        body: { statusCode: 403, code: 'FORBIDDEN', message: expect.any(String) },
      };
      expect(await admin('POST', '/members', { userId: 'auth0|other', role: 'billing_admin' })).toMatchObject(
        forbidden,
      );
      expect(await admin('POST', '/members', { userId: ADMIN, role: 'billing_admin' })).toMatchObject(
        forbidden,
      );
      expect(
        await admin('PATCH', `/members/${encodeURIComponent(ADMIN)}`, { role: 'billing_admin' }),
      ).toMatchObject(forbidden);
      expect(
        await admin('PATCH', `/members/${encodeURIComponent(BILLER)}`, { role: 'viewer' }),
      ).toMatchObject(forbidden);
      expect(await roles()).toEqual(before);

      // The owner may demote the billing admin.
      const owner = http(tenant, OWNER, 'owner');
      expect(
        await owner('PATCH', `/members/${encodeURIComponent(BILLER)}`, { role: 'member' }),
      ).toMatchObject({
        status: 200,
        body: { member: { role: 'member' } },
      });
      expect(
        await owner('PATCH', `/members/${encodeURIComponent(BILLER)}`, { role: 'billing_admin' }),
      ).toMatchObject({ status: 200 });
    });

    it('issues a billing_admin API key to the owner only', async () => {
      const admin = http(tenant, ADMIN);
      expect(await admin('POST', '/api-keys', { role: 'billing_admin' })).toMatchObject({
        status: 403,
        body: { code: 'FORBIDDEN' },
      });
      const owner = http(tenant, OWNER, 'owner');
      const created = await owner('POST', '/api-keys', { role: 'billing_admin' });
      expect(created).toMatchObject({ status: 201, body: { role: 'billing_admin' } });
      const keys = (await owner('GET', '/api-keys')).body.keys;
      expect(keys.map((k: any) => k.role)).toEqual(['billing_admin']);
    });
  });

  describe('re-authentication', () => {
    it('refreshes the same user: the socket outlives the first token’s exp', async () => {
      const tenant = uniqueName('refresh');
      const c = await connect(token(tenant, 'auth0|refresher', 'member', 2));
      const again = await c.request<any>({
        type: 'authenticate',
        token: token(tenant, 'auth0|refresher', 'admin'),
      });
      expect(again.identity).toEqual({
        userId: 'auth0|refresher',
        email: 'user@example.com',
        tenantId: tenant,
        role: 'admin',
      });
      await sleep(3500); // past the first token's exp (tolerance 0)
      expect((await c.request<any>({ type: 'ping' })).type).toBe('pong');
      expect((await c.request<any>({ type: 'list_sessions' })).type).toBe('session_list');
    });

    it('closes a socket whose token expires without refresh with 4001', async () => {
      const c = await connect(token(uniqueName('expiry'), 'auth0|sleeper', 'member', 2));
      expect(await c.closed).toMatchObject({ code: 4001 });
    });

    it('closes a refreshed socket when the refreshing token expires in turn', async () => {
      const tenant = uniqueName('expiry2');
      const c = await connect(token(tenant, 'auth0|sleeper', 'member', 3600));
      await c.request({ type: 'authenticate', token: token(tenant, 'auth0|sleeper', 'member', 2) });
      expect(await c.closed).toMatchObject({ code: 4001 });
    });

    it('refuses another tenant or user with AUTH_FAILED; the socket keeps its tenant, sessions and joins', async () => {
      const home = uniqueName('home');
      const away = uniqueName('away');
      const a = await connect(token(home, 'auth0|alice'));
      const created = await a.request<any>({ type: 'create_session', agentType: 'echo', name: 'Home' });
      const homeId: string = created.session.id;
      await a.request({ type: 'join_session', sessionId: homeId });
      const b = await connect(token(away, 'auth0|alice'));
      const awayId: string = (
        await b.request<any>({ type: 'create_session', agentType: 'echo', name: 'Away' })
      ).session.id;

      expect(
        await outcome(a.request({ type: 'authenticate', token: token(away, 'auth0|alice', 'owner') })),
      ).toBe('AUTH_FAILED');
      expect(
        await outcome(a.request({ type: 'authenticate', token: token(home, 'auth0|mallory', 'owner') })),
      ).toBe('AUTH_FAILED');

      const sessions = (await a.request<any>({ type: 'list_sessions' })).sessions.map((s: any) => s.id);
      expect(sessions).toContain(homeId);
      expect(sessions).not.toContain(awayId);
      expect(await outcome(a.request({ type: 'join_session', sessionId: awayId }))).toBe('SESSION_NOT_FOUND');
      // Still a member (not owner) of home: the refused tokens changed nothing.
      expect(await outcome(a.request({ type: 'manage_members', action: 'list' }))).toBe('FORBIDDEN');
      // Still joined: the session topic's heartbeat reaches it, and home's tenant broadcasts too.
      a.log.length = 0;
      await a.waitFor('heartbeat', 5000, true);
      const other = await connect(token(home, 'auth0|bob'));
      await other.request({ type: 'rename_session', sessionId: homeId, name: 'Renamed' });
      await a.waitFor('session_renamed', 5000, true, (e: any) => e.sessionId === homeId);
      // The original identity may still refresh.
      expect(
        (await a.request<any>({ type: 'authenticate', token: token(home, 'auth0|alice') })).identity,
      ).toMatchObject({
        tenantId: home,
        userId: 'auth0|alice',
      });
    });

    it('accepts an API key again only on the socket it authenticated, never a JWT there', async () => {
      const tenant = uniqueName('keys');
      const owner = http(tenant, 'auth0|keyowner', 'owner');
      const { key, id } = (await owner('POST', '/api-keys', { role: 'member' })).body;
      const c = await connect(key);
      expect(c.identity?.userId).toBe(`apikey:${id}`);
      expect((await c.request<any>({ type: 'authenticate', token: key })).identity.userId).toBe(
        `apikey:${id}`,
      );
      expect(
        await outcome(c.request({ type: 'authenticate', token: token(tenant, 'auth0|keyowner', 'owner') })),
      ).toBe('AUTH_FAILED');
      expect(c.identity?.role).toBe('member');
      expect(await outcome(c.request({ type: 'manage_members', action: 'list' }))).toBe('FORBIDDEN');
    });
  });
});

describe('TRUST_PROXY hops and the failed-authentication limiter', () => {
  let jwks: JwksServer;
  const gateways: GatewayProcess[] = [];
  const start = async (trustProxy: string) => {
    const gw = await startGateway({
      NODE_ENV: 'production',
      AUTH_URL: jwks.url,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_RATE_LIMIT_MAX: '3',
      AUTH_RATE_LIMIT_WINDOW_MS: '60000',
      TRUST_PROXY: trustProxy,
    });
    gateways.push(gw);
    return gw;
  };

  beforeAll(async () => {
    jwks = await new JwksServer().start();
  });
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await jwks?.stop();
  });

  /** One `authenticate` through a "proxy" at `via` (the socket's address) that sent this X-Forwarded-For. */
  async function attempt(url: string, credential: string, via: string, xff: string) {
    const c = await DiminuendoClient.connect(url, {
      authenticate: false,
      localAddress: via,
      headers: { 'x-forwarded-for': xff },
    });
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

  it('with 1 hop counts failures against the rightmost entry, whatever the client put on the left', async () => {
    const gw = await start('1');
    const results: string[] = [];
    for (let i = 0; i < 5; i++)
      results.push(await attempt(gw.url, 'bad', '127.0.0.2', `10.9.9.${i}, 198.51.100.10`));
    expect(results).toEqual([
      'AUTH_FAILED',
      'AUTH_FAILED',
      'AUTH_FAILED',
      'AUTH_RATE_LIMITED',
      'AUTH_RATE_LIMITED',
    ]);

    // An attacker naming a victim's address on the left locks out only itself…
    for (let i = 0; i < 4; i++) await attempt(gw.url, 'bad', '127.0.0.2', '198.51.100.20, 198.51.100.30');
    expect(await attempt(gw.url, 'bad', '127.0.0.2', '198.51.100.20, 198.51.100.30')).toBe(
      'AUTH_RATE_LIMITED',
    );
    // …and the victim, arriving through the same proxy, still authenticates.
    expect(await attempt(gw.url, jwks.sign({}, { audience: AUDIENCE }), '127.0.0.2', '198.51.100.20')).toBe(
      'ok',
    );
    expect(await attempt(gw.url, 'bad', '127.0.0.2', '198.51.100.20')).toBe('AUTH_FAILED');
  });

  it('with TRUST_PROXY=false ignores the header: failures count against the socket address', async () => {
    const gw = await start('false');
    const results: string[] = [];
    for (let i = 0; i < 4; i++)
      results.push(await attempt(gw.url, 'bad', '127.0.0.3', `10.8.8.${i}, 198.51.100.${i}`));
    expect(results).toEqual(['AUTH_FAILED', 'AUTH_FAILED', 'AUTH_FAILED', 'AUTH_RATE_LIMITED']);
    // Another socket address is unaffected, whatever its header says.
    expect(await attempt(gw.url, 'bad', '127.0.0.4', '198.51.100.0')).toBe('AUTH_FAILED');
  });
});
