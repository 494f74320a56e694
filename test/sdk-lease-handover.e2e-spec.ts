import Redis from 'ioredis';
import { DiminuendoClient } from '@app/client';
import { Diminuendo } from '@app/client/sdk/node';
import { startGateway, tempDataDir, type GatewayProcess } from './support/gateway-process';
import { SIM_KEY, startPodiumSim, type SimProcess } from './support/podium-sim';
import { eventually, expectExactlyOnce, record } from './support/sdk-history';
import { deleteRedisKeys, TEST_REDIS_URL, uniqueName } from './support/services';

/**
 * Two gateways in lease mode on one Redis and one DATA_DIR (docs/scaling.md). The SDK's client sits on
 * B, forwarded to the tenant's owner A; A is stopped mid-turn, B takes the tenant over. The application
 * sees the session's durable events exactly once, in order, across the change of owner.
 */
describe('SDK: exactly-once delivery when the lease owner changes', () => {
  let sim: SimProcess;
  let redis: Redis;
  const prefix = uniqueName('e2e_sdk_lease');
  const dataDir = tempDataDir('dim-sdk-lease-');
  const gws: GatewayProcess[] = [];
  const start = async (name: string) => {
    const gw = await startGateway({
      NODE_ENV: 'development',
      PODIUM_URL: sim.url,
      PODIUM_API_KEY: SIM_KEY,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      LEASE_TTL_MS: '1500',
      DATA_DIR: dataDir,
      DB_WRITE_BATCH_MS: '20',
      INSTANCE_ID: name,
    });
    gws.push(gw);
    return gw;
  };
  const leaseHolder = async () => {
    const v = await redis.get(`${prefix}:lease:tenant:dev`);
    return v === null ? null : v.slice(0, v.lastIndexOf(':'));
  };

  beforeAll(async () => {
    sim = await startPodiumSim();
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    await Promise.all(gws.map((g) => g.stop('SIGKILL')));
    await sim?.stop();
    await deleteRedisKeys(prefix, redis);
    await redis.quit();
  });

  it('the owner is stopped mid-turn: the client on the survivor re-joins, no gap, no duplicate', async () => {
    await sim.config({ tokenDelayMs: 15 });
    const a = await start('gw-a');
    const first = await DiminuendoClient.connect(a.url);
    await first.request({ type: 'list_sessions' }); // A takes the tenant's lease
    const b = await start('gw-b');
    const ownerBefore = await leaseHolder();
    expect(ownerBefore).toContain('gw-a');

    const client = new Diminuendo({ url: b.url, reconnect: { baseMs: 50, capMs: 500 } });
    const states: string[] = [];
    client.on('state', (s) => states.push(s));
    try {
      await client.connect();
      const session = await client.createSession('echo');
      const seen = record(session);
      await session.join();
      session.runTurn('stream this back slowly please '.repeat(12));
      await eventually(() => seen.all.filter((e) => e.type === 'text_delta').length >= 5, 'deltas');

      expect(await a.stop('SIGTERM')).toBe(0);
      await eventually(() => states.includes('reconnecting'), 'reconnecting');
      await eventually(() => client.state === 'open', 'reconnected');
      const outcome = await session.runTurn('after the handover').outcome;
      expect(outcome).toMatchObject({ status: 'complete', finalText: 'after the handover' });
      expect(await leaseHolder()).toContain('gw-b');
      await expectExactlyOnce(b.url, session.id, seen.durable);
    } finally {
      client.close();
      await first.close();
    }
  });
});
