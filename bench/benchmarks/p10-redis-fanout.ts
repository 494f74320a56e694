/**
 * P10: fan-out through Redis (lease mode), beside the in-process fan-out of P1. Two gateway processes
 * share one DATA_DIR and one Redis key prefix; a driver client connects to A first, so A owns tenant
 * `dev`, and creates two echo sessions there. The same `bench:N` turn as P1 then reaches 100
 * subscribers connected to A (in-process) or 100 connected to B, which are forwarded: A sends their
 * frames over Redis pub/sub, one message per event-loop turn, each broadcast frame once. Reported:
 * frames/s of both runs and the ratio through Redis / in-process, with P1's loss and seq checks.
 */
import Redis from 'ioredis';
import { DiminuendoClient } from '@app/client';
import {
  startGw,
  startSim,
  summary,
  tempDataDir,
  type BenchContext,
  type BenchResult,
  type GatewayProcess,
} from '../lib/common';
import { gatewayFanout } from '../lib/fanout';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const subscribers = 100;
  const frames = ctx.quick ? 2_000 : 10_000;
  const reps = ctx.quick ? 2 : 3;
  const prefix = `bench_p10_${process.pid}_${Date.now()}`;
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5000 });
  await redis.connect().catch((err: Error) => {
    redis.disconnect();
    throw new Error(`P10 needs Redis at ${REDIS_URL}: ${err.message}`);
  });
  const sim = await startSim();
  const dataDir = tempDataDir('dim-p10-');
  // As P1: the skip/close policy is lifted so that the figure is fan-out cost, not P8's policy.
  const env = {
    WS_BACKPRESSURE_SKIP_BYTES: String(512 << 20),
    WS_BACKPRESSURE_CLOSE_BYTES: String(1024 << 20),
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    DATA_DIR: dataDir,
  };
  const gws: GatewayProcess[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  const local: number[] = [];
  const remote: number[] = [];
  const ratios: number[] = [];
  let violations = 0;
  let loss = 0;
  let forwarded = 0;
  let owner = '';
  let memberA = '';
  try {
    const a = await startGw(sim, { ...env, INSTANCE_ID: 'p10-a' });
    gws.push(a);
    const b = await startGw(sim, { ...env, INSTANCE_ID: 'p10-b' });
    gws.push(b);
    memberA = member(a);
    ctx.log(`P10 cluster members: A ${memberA}, B ${member(b)} (prefix ${prefix})`);
    // The first client served makes A the owner of tenant `dev`.
    const driver = await DiminuendoClient.connect(a.url);
    driver.maxLog = 0;
    closers.push(() => driver.close());
    owner = ((await redis.get(`${prefix}:lease:tenant:dev`)) ?? '').replace(/:\d+$/, '');
    if (owner !== memberA) throw new Error(`tenant dev is held by "${owner}", expected A (${memberA})`);
    const session = async () => {
      const created = await driver.request<any>({ type: 'create_session', agentType: 'echo' });
      const id: string = created.session.id;
      await driver.request({ type: 'join_session', sessionId: id });
      return { id, driver };
    };
    const inProcess = await gatewayFanout(a, subscribers, '127.0.0.1', await session());
    closers.push(() => inProcess.close());
    const throughRedis = await gatewayFanout(b, subscribers, '127.0.0.1', await session());
    closers.push(() => throughRedis.close());
    forwarded = b.output.filter((l) => l.includes('forwarding to the owning instance')).length;
    if (forwarded < subscribers)
      throw new Error(`only ${forwarded} of B's ${subscribers} subscribers were forwarded to A`);
    const warm = Math.min(frames, 1000);
    await inProcess.run(`bench:${warm}`, warm);
    await throughRedis.run(`bench:${warm}`, warm);
    for (let r = 0; r < reps; r++) {
      const l = await inProcess.run(`bench:${frames}`, frames);
      const t = await throughRedis.run(`bench:${frames}`, frames);
      ctx.log(
        `P10 rep ${r + 1}: in-process ${Math.round(l.framesPerSecond)} f/s (loss ${l.lossPerSubscriber}, seq violations ${l.seqViolations}), through Redis ${Math.round(t.framesPerSecond)} f/s (loss ${t.lossPerSubscriber}, seq violations ${t.seqViolations}, delivered ${t.delivered}/${frames * subscribers})`,
      );
      local.push(l.framesPerSecond);
      remote.push(t.framesPerSecond);
      ratios.push(t.framesPerSecond / l.framesPerSecond);
      violations += l.seqViolations + t.seqViolations;
      loss = Math.max(loss, l.lossPerSubscriber, t.lossPerSubscriber);
    }
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    for (const gw of gws.reverse()) await gw.stop();
    await sim.stop();
    const removed = await deleteKeys(redis, prefix).catch((err: Error) => {
      ctx.log(`P10 could not remove the Redis keys ${prefix}:*: ${err.message}`);
      return NaN;
    });
    ctx.log(`P10 removed ${removed} Redis key(s) ${prefix}:*`);
    redis.disconnect();
  }
  const ratio = summary(ratios);
  return {
    id: 'P10',
    name: 'fan-out through Redis',
    params: {
      subscribers,
      framesPerTurn: frames,
      reps,
      backpressureSkipBytes: 512 << 20,
      instances: 2,
      owner,
      forwarded,
    },
    rows: [
      {
        id: 'P10',
        metric: 'delivered frames/s (1 session → 100 subs on the other instance, via Redis)',
        unit: 'frames/s',
        gateway: summary(remote),
        baseline: { name: 'in-process (100 subs on the owner)', ...summary(local) },
        ratio,
        ratioKind: 'ratio',
        target: 'none (ratio only); 0 loss, seq increasing',
        met: loss === 0 && violations === 0,
        notes: `loss/subscriber ${loss}, seq violations ${violations}`,
      },
    ],
  };
}

/** This process's bus member name, from its `cluster member <member>` start-up line. */
function member(gw: GatewayProcess): string {
  for (const line of gw.output) {
    const m = /cluster member (\S+)/.exec(line);
    if (m) return m[1];
  }
  throw new Error(`gateway on port ${gw.port} logged no "cluster member" line (not in lease mode?)`);
}

/** Deletes every key under `prefix:` (bounded SCAN); resolves with the number removed. */
async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let removed = 0;
  for (let i = 0; i < 10_000; i++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length) removed += await redis.del(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
  return removed;
}
