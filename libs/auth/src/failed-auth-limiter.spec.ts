import { Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import Redis from 'ioredis';
import { DomainError } from '@app/protocol';
import { TEST_REDIS_URL, uniqueName } from '../../../test/support/services';
import type { AuthConfig } from './auth.config';
import type { AuthEventMap } from './auth.events';
import { AuthService, LIMITER_DOWN_RETRY_MS } from './auth.service';
import { InMemoryFailedAuthLimiter, type FailedAuthLimiter } from './failed-auth-limiter';
import { RedisFailedAuthLimiter } from './redis-failed-auth-limiter';
import type { RoleResolver } from './role-resolver';
import type { TokenVerifier } from './token-verifier';

/* Integration: the Redis limiter against the machine's real Redis (TEST_REDIS_URL). */

beforeAll(() => Logger.overrideLogger(false));

const open: RedisFailedAuthLimiter[] = [];
const prefixes: string[] = [];

async function redisLimiter(prefix: string, max: number, windowMs: number): Promise<RedisFailedAuthLimiter> {
  const l = new RedisFailedAuthLimiter({ url: TEST_REDIS_URL, keyPrefix: prefix, max, windowMs });
  open.push(l);
  await l.connect();
  return l;
}

afterAll(async () => {
  await Promise.all(open.map((l) => l.close()));
  const redis = new Redis(TEST_REDIS_URL);
  for (const p of prefixes) {
    const keys = await redis.keys(`${p}:*`);
    if (keys.length) await redis.del(...keys);
  }
  await redis.quit();
});

function prefix(): string {
  const p = uniqueName('limiter');
  prefixes.push(p);
  return p;
}

describe.each([
  [
    'in memory',
    (max: number, windowMs: number) => Promise.resolve(new InMemoryFailedAuthLimiter(max, windowMs)),
  ],
  ['in Redis', (max: number, windowMs: number) => redisLimiter(prefix(), max, windowMs)],
])('FailedAuthLimiter %s', (_name, make: (max: number, windowMs: number) => Promise<FailedAuthLimiter>) => {
  it('allows max failures per key, then answers the wait, and keeps keys apart', async () => {
    const l = await make(3, 2000);
    for (let i = 0; i < 3; i++) {
      expect(await l.check('10.0.0.1')).toBe(0);
      await l.hit('10.0.0.1');
    }
    const wait = await l.check('10.0.0.1');
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(2000);
    expect(await l.check('10.0.0.2')).toBe(0);
  });

  it('lets the key try again once the window has passed', async () => {
    const l = await make(2, 1000);
    await l.hit('k');
    await l.hit('k');
    const wait = await l.check('k');
    expect(wait).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, wait + 50));
    expect(await l.check('k')).toBe(0);
  });
});

describe('RedisFailedAuthLimiter across instances', () => {
  it('counts concurrent failures from several instances against one budget', async () => {
    const p = prefix();
    const instances = await Promise.all([1, 2, 3].map(() => redisLimiter(p, 10, 5000)));
    // 12 failures, spread over three clients and sent at once.
    await Promise.all(Array.from({ length: 12 }, (_, i) => instances[i % 3].hit('203.0.113.7')));
    for (const l of instances) expect(await l.check('203.0.113.7')).toBeGreaterThan(0);
    const other = await redisLimiter(p, 10, 5000);
    expect(await other.check('203.0.113.8')).toBe(0);
  });

  it('rejects, instead of answering 0, when Redis cannot be reached', async () => {
    const l = new RedisFailedAuthLimiter({
      url: 'redis://127.0.0.1:1',
      keyPrefix: prefix(),
      max: 3,
      windowMs: 1000,
    });
    open.push(l);
    await l.connect(300);
    await expect(l.check('k')).rejects.toThrow();
    await expect(l.hit('k')).rejects.toThrow();
  });
});

describe('AuthService with a limiter that cannot answer', () => {
  const config = { devMode: false, rateLimitMax: 3, rateLimitWindowMs: 1000 } as AuthConfig;
  const down: FailedAuthLimiter = {
    kind: 'redis',
    check: () => Promise.reject(new Error('Redis connection is not ready')),
    hit: () => Promise.reject(new Error('Redis connection is not ready')),
    sweep: () => undefined,
    probe: () => Promise.resolve({ ok: false, error: 'down' }),
  };
  const verifier = {
    verify: jest.fn(() => Promise.resolve({ userId: 'u', tenantId: 't', claimedRoles: [] })),
    sweepCache: () => undefined,
  } as unknown as TokenVerifier;
  const roles = { resolve: () => Promise.resolve('member') } as unknown as RoleResolver;

  it('fails closed: even a valid token is refused with AUTH_RATE_LIMITED, and never verified', async () => {
    const auth = new AuthService(config, verifier, roles, down);
    try {
      const err = await auth.authenticate('a-valid-token', '10.1.1.1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect(err).toMatchObject({ code: 'AUTH_RATE_LIMITED' });
      expect((err as DomainError).hints).toEqual({ retryAfterMs: LIMITER_DOWN_RETRY_MS });
      expect(verifier.verify).not.toHaveBeenCalled();
    } finally {
      auth.onModuleDestroy();
    }
  });

  it('announces each refusal as auth.failed, to every listener', async () => {
    const events = new EventEmitter2();
    const seen: AuthEventMap['auth.failed'][][] = [[], []];
    for (const list of seen) events.on('auth.failed', (failure) => list.push(failure));
    const refusing = {
      verify: () => Promise.reject(new DomainError('AUTH_FAILED')),
      sweepCache: () => undefined,
    } as unknown as TokenVerifier;
    const limiter = new InMemoryFailedAuthLimiter(1, 60_000);
    const auth = new AuthService(config, refusing, roles, limiter, undefined, undefined, events);
    try {
      await expect(auth.authenticate('forged', '10.1.1.2')).rejects.toMatchObject({ code: 'AUTH_FAILED' });
      await expect(auth.authenticate('forged', '10.1.1.2')).rejects.toMatchObject({
        code: 'AUTH_RATE_LIMITED',
      });
      for (const list of seen) expect(list).toEqual([{ reason: 'invalid' }, { reason: 'rate_limited' }]);
    } finally {
      auth.onModuleDestroy();
    }
  });
});
