import { Diminuendo, type Identity } from '@app/client/sdk/node';
import { startGateway, type GatewayProcess } from './support/gateway-process';
import { JwksServer } from './support/jwks-server';
import { eventually } from './support/sdk-history';

/** The SDK's authentication against a production gateway and a real JWKS issuer. */
describe('SDK: authentication in production mode', () => {
  let jwks: JwksServer;
  let gw: GatewayProcess;

  beforeAll(async () => {
    jwks = await new JwksServer().start();
    gw = await startGateway({
      NODE_ENV: 'production',
      AUTH_URL: jwks.url,
      AUTH_AUDIENCE: 'diminuendo-api',
      AUTH_CLOCK_TOLERANCE_S: '0',
    });
  });
  afterAll(async () => {
    await gw.stop();
    await jwks.stop();
  });

  it('re-authenticates on the open socket before the token expires, with a fresh token from getToken', async () => {
    const issued: string[] = [];
    const client = new Diminuendo({
      url: gw.url,
      getToken: () => {
        const token = jwks.sign({ email: `refresh-${issued.length}@example.com` }, { expiresIn: 4 });
        issued.push(token);
        return token;
      },
      refreshBeforeExpiryMs: 3000,
    });
    const identities: Identity[] = [];
    const states: string[] = [];
    client.on('authenticated', (i) => identities.push(i));
    client.on('state', (s) => states.push(s));
    try {
      await client.connect();
      await eventually(() => identities.length >= 2, 'a second authenticated');
      expect(issued.length).toBeGreaterThanOrEqual(2);
      expect(identities[1]).toMatchObject({ email: 'refresh-1@example.com', tenantId: 'acme' });
      expect(states).toEqual(['connecting', 'open']); // the same socket throughout
      expect((await client.request<any>({ type: 'list_sessions' })).type).toBe('session_list');
    } finally {
      client.close();
    }
  });

  it('a refused token is final: connect rejects with AUTH_FAILED and nothing reconnects', async () => {
    const client = new Diminuendo({ url: gw.url, token: jwks.sign({}, { audience: 'someone-else' }) });
    const states: string[] = [];
    client.on('state', (s) => states.push(s));
    await expect(client.connect()).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    expect(client.state).toBe('closed');
    expect(states).not.toContain('reconnecting');
    await expect(client.request({ type: 'list_sessions' })).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('without a token the gateway’s requirement is reported, not waited out', async () => {
    const client = new Diminuendo({ url: gw.url });
    await expect(client.connect()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
