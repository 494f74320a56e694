import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DiminuendoClient, ProtocolError } from '@app/client';
import { CloseCode } from '@app/protocol';
import { startGateway, type GatewayProcess } from './support/gateway-process';
import { JwksServer } from './support/jwks-server';
import { edgeGet, findNginx, startEdgeProxy, type EdgeProxy } from './support/nginx';

const AUDIENCE = 'diminuendo-api';

/**
 * Model 1 (per-instance volumes): two shards with SHARD_TENANTS in production mode, real RS256 tokens,
 * and the shipped nginx map routing each tenant's hint to its shard.
 */
describe('shards: tenant-to-shard map and refusal of tenants served elsewhere', () => {
  let jwks: JwksServer;
  let acmeShard: GatewayProcess;
  let globexShard: GatewayProcess;

  const prod = (shardTenants: string) => ({
    NODE_ENV: 'production',
    AUTH_URL: jwks.url,
    AUTH_AUDIENCE: AUDIENCE,
    ALLOWED_ORIGINS: 'https://app.example.com',
    TENANT_OWNERSHIP: 'local',
    SHARD_TENANTS: shardTenants,
    TRUST_PROXY: 'true',
  });
  const token = (tenant: string) => jwks.sign({ tenant_id: tenant, sub: `auth0|${tenant}-user` });

  beforeAll(async () => {
    jwks = await new JwksServer().start();
    [acmeShard, globexShard] = await Promise.all([
      startGateway(prod('acme,acme-*')),
      startGateway(prod('globex')),
    ]);
  });
  afterAll(async () => {
    await Promise.all([acmeShard?.stop(), globexShard?.stop()]);
    await jwks.stop();
  });

  it('serves its own tenants, including those under a listed prefix', async () => {
    for (const tenant of ['acme', 'acme-eu']) {
      const c = await DiminuendoClient.connect(acmeShard.url, { token: token(tenant) });
      expect(c.identity?.tenantId).toBe(tenant);
      const { session } = await c.request<any>({ type: 'create_session', agentType: 'echo' });
      expect(session.id).toEqual(expect.any(String));
      await c.close();
    }
  });

  it('refuses a tenant of another shard: TENANT_NOT_SERVED with the requestId, close 4021, nothing opened', async () => {
    const c = await DiminuendoClient.connect(acmeShard.url, { authenticate: false });
    const refused = await c
      .request({ type: 'authenticate', token: token('globex'), requestId: 'auth-1' })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(refused).toBeInstanceOf(ProtocolError);
    expect((refused as ProtocolError).code).toBe('TENANT_NOT_SERVED');
    expect((refused as ProtocolError).event.requestId).toBe('auth-1');
    expect(await c.closed).toMatchObject({ code: CloseCode.TENANT_NOT_SERVED });
    expect(CloseCode.TENANT_NOT_SERVED).toBe(4021);
    // The refused tenant got no registry on this shard's volume, and the shard still serves its own.
    expect(existsSync(join(acmeShard.dataDir, 'tenants', 'globex'))).toBe(false);
    const own = await DiminuendoClient.connect(acmeShard.url, { token: token('acme') });
    expect(own.identity?.tenantId).toBe('acme');
    await own.close();
  });

  it('answers the admin API for a tenant of another shard with 421 TENANT_NOT_SERVED', async () => {
    const misdirected = await fetch(`${acmeShard.url}/api/v1/me`, {
      headers: { authorization: `Bearer ${token('globex')}` },
    });
    expect(misdirected.status).toBe(421);
    expect(await misdirected.json()).toMatchObject({ statusCode: 421, code: 'TENANT_NOT_SERVED' });
    const served = await fetch(`${globexShard.url}/api/v1/me`, {
      headers: { authorization: `Bearer ${token('globex')}` },
    });
    expect(served.status).toBe(200);
    expect(await served.json()).toMatchObject({ tenantId: 'globex' });
  });

  it('routes each tenant hint to its shard through the shipped nginx map', async () => {
    const nginx = findNginx();
    expect(nginx).toBeDefined(); // `npm test` (scripts/test-prep.sh) installs Debian's nginx when missing
    let proxy: EdgeProxy | undefined;
    try {
      // The operator's edit for two shards: a second upstream and the tenant lines of the map.
      proxy = await startEdgeProxy(nginx!, `127.0.0.1:${acmeShard.port}`, (site) =>
        site
          .replace(
            /^# upstream shard-1 \{\n#.*\n# \}$/m,
            `upstream shard-1 { server 127.0.0.1:${globexShard.port}; }`,
          )
          .replace(/^\s*# acme\s+shard-0;$/m, '    acme shard-0;')
          .replace(/^\s*# globex\s+shard-1;$/m, '    globex shard-1;'),
      );
      expect(proxy.site).toMatch(/^\s+globex shard-1;$/m);
      expect(proxy.site).toContain(`server 127.0.0.1:${globexShard.port};`);
      const edge = `wss://127.0.0.1:${proxy.port}`;

      for (const tenant of ['acme', 'globex']) {
        const c = await DiminuendoClient.connect(edge, {
          token: token(tenant),
          query: { tenant },
          rejectUnauthorized: false,
        });
        expect(c.identity?.tenantId).toBe(tenant);
        await c.close();
      }
      // A wrong hint lands on the other shard, which refuses clearly instead of serving a second copy.
      const wrong = await DiminuendoClient.connect(edge, {
        authenticate: false,
        query: { tenant: 'acme' },
        rejectUnauthorized: false,
      });
      await expect(wrong.request({ type: 'authenticate', token: token('globex') })).rejects.toMatchObject({
        code: 'TENANT_NOT_SERVED',
      });
      expect(await wrong.closed).toMatchObject({ code: CloseCode.TENANT_NOT_SERVED });

      // The admin API: the same hint as a query parameter or an X-Tenant-Id header.
      const bearer = { authorization: `Bearer ${token('globex')}` };
      const byQuery = await edgeGet(proxy.port, '/api/v1/me?tenant=globex', bearer);
      expect([byQuery.status, JSON.parse(byQuery.body).tenantId]).toEqual([200, 'globex']);
      const byHeader = await edgeGet(proxy.port, '/api/v1/me', { ...bearer, 'x-tenant-id': 'globex' });
      expect([byHeader.status, JSON.parse(byHeader.body).tenantId]).toEqual([200, 'globex']);
      const noHint = await edgeGet(proxy.port, '/api/v1/me', bearer);
      expect([noHint.status, JSON.parse(noHint.body).code]).toEqual([421, 'TENANT_NOT_SERVED']);
    } finally {
      proxy?.stop();
    }
  });
});
