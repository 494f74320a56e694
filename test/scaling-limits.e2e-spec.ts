import { attemptAuth, type AuthAttempt } from './support/auth-attempt';
import { startGateway, type GatewayProcess } from './support/gateway-process';
import { JwksServer } from './support/jwks-server';
import { deleteRedisKeys, TEST_CLUSTER_SECRET, TEST_REDIS_URL, uniqueName } from './support/services';

const AUDIENCE = 'diminuendo-api';
const MAX = 4;
const WINDOW_MS = 3000;

type Attempt = AuthAttempt;

/**
 * Several gateway instances with one REDIS_URL share the failed-authentication budget of an IP:
 * spreading the attempts over three instances does not buy an attacker more guesses.
 */
describe('shared auth limiter: three gateway processes, one Redis (docs/scaling.md)', () => {
  let jwks: JwksServer;
  let gws: GatewayProcess[] = [];
  const prefix = uniqueName('e2e_limits');

  beforeAll(async () => {
    jwks = await new JwksServer().start();
    const env = {
      NODE_ENV: 'production',
      AUTH_URL: jwks.url,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_RATE_LIMIT_MAX: String(MAX),
      AUTH_RATE_LIMIT_WINDOW_MS: String(WINDOW_MS),
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      CLUSTER_SECRET: TEST_CLUSTER_SECRET,
    };
    gws = await Promise.all([1, 2, 3].map(() => startGateway(env)));
  });
  afterAll(async () => {
    await Promise.all(gws.map((g) => g.stop()));
    await jwks?.stop();
    await deleteRedisKeys(prefix);
  });

  const attempt = (gw: GatewayProcess, token: string, localAddress: string): Promise<Attempt> =>
    attemptAuth(gw.url, token, localAddress);

  /** MAX + 2 bad attempts from `ip`, the i-th on `pick(i)`. */
  async function failures(ip: string, pick: (i: number) => GatewayProcess): Promise<Attempt[]> {
    const out: Attempt[] = [];
    for (let i = 0; i < MAX + 2; i++) out.push(await attempt(pick(i), 'bad-token', ip));
    return out;
  }

  const codes = (rs: Attempt[]) => rs.map((r) => r.code);
  const tripped = [...Array<string>(MAX).fill('AUTH_FAILED'), 'AUTH_RATE_LIMITED', 'AUTH_RATE_LIMITED'];

  it('logs that the limiter is shared through Redis, and reports Redis in /health', async () => {
    for (const g of gws) expect(g.output.join('\n')).toContain('auth limiter connected to Redis');
    const health: any = await (await fetch(`${gws[0].url}/health`)).json();
    expect(health.details.redis).toEqual({ status: 'up' });
  });

  it('trips at the same count whether the failures hit one instance or are spread over three', async () => {
    const single = await failures('127.0.0.61', () => gws[0]);
    const spread = await failures('127.0.0.62', (i) => gws[i % 3]);
    expect(codes(single)).toEqual(tripped);
    expect(codes(spread)).toEqual(tripped);
    for (const r of [...single.slice(MAX), ...spread.slice(MAX)]) {
      expect(r.retryAfterMs).toBeGreaterThan(0);
      expect(r.retryAfterMs).toBeLessThanOrEqual(WINDOW_MS);
    }
  });

  it('refuses a tripped IP on every instance even with a valid token, until the window passes', async () => {
    const ip = '127.0.0.63';
    const rs = await failures(ip, (i) => gws[(i + 1) % 3]);
    expect(codes(rs)).toEqual(tripped);
    const valid = jwks.sign();
    const refused = await Promise.all(gws.map((g) => attempt(g, valid, ip)));
    expect(codes(refused)).toEqual(['AUTH_RATE_LIMITED', 'AUTH_RATE_LIMITED', 'AUTH_RATE_LIMITED']);
    // Another address is not affected.
    expect((await attempt(gws[1], valid, '127.0.0.64')).ok).toBe(true);
    const wait = Math.max(...refused.map((r) => r.retryAfterMs ?? 0));
    await new Promise((r) => setTimeout(r, wait + 200));
    const again = await Promise.all(gws.map((g) => attempt(g, valid, ip)));
    expect(again.every((r) => r.ok)).toBe(true);
  });

  it('counts concurrent failures on three instances: none slips past the budget', async () => {
    const ip = '127.0.0.65';
    // 3 × MAX failures at once (more than the budget), then every instance refuses.
    await Promise.all(Array.from({ length: 3 * MAX }, (_, i) => attempt(gws[i % 3], 'bad-token', ip)));
    const after = await Promise.all(gws.map((g) => attempt(g, jwks.sign(), ip)));
    expect(codes(after)).toEqual(['AUTH_RATE_LIMITED', 'AUTH_RATE_LIMITED', 'AUTH_RATE_LIMITED']);
  });
});
