/**
 * P10: fan-out through Redis (lease mode), beside the in-process fan-out of P1. Two gateway processes
 * share one DATA_DIR and one Redis key prefix; a driver client connects to A first, so A owns tenant
 * `dev`, and creates two echo sessions there. The same `bench:N` turn as P1 then reaches 100
 * subscribers connected to A (in-process) or 100 connected to B, which are forwarded: A sends their
 * frames over Redis pub/sub, one message per event-loop turn, each broadcast frame once. Reported:
 * frames/s of both runs and the ratio through Redis / in-process, with P1's loss and seq checks, and
 * the peak output buffer Redis held for a pub/sub subscriber during the through-Redis turns (Redis
 * closes a subscriber above its `client-output-buffer-limit pubsub`; B then resets its forwarded
 * clients with 1012). A through-Redis turn cut that way is counted, not timed, and B's subscribers
 * reconnect before the next repetition.
 */
import { rmSync } from 'node:fs';
import Redis from 'ioredis';
import { DiminuendoClient } from '@app/client';
import {
  sleep,
  startGw,
  startSim,
  summary,
  tempDataDir,
  until,
  type BenchContext,
  type BenchResult,
  type GatewayProcess,
} from '../lib/common';
import { gatewayFanout, type TurnRun } from '../lib/fanout';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MiB = 2 ** 20;

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
  const pubsubLimit = await pubsubHardLimit(redis);
  const sim = await startSim();
  const dataDir = tempDataDir('dim-p10-');
  // As P1: the skip/close policy is lifted so that the figure is fan-out cost, not P8's policy.
  const env = {
    WS_BACKPRESSURE_SKIP_BYTES: String(512 << 20),
    WS_BACKPRESSURE_CLOSE_BYTES: String(1024 << 20),
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    DATA_DIR: dataDir,
    // Signed bus, as in production: the figure includes one HMAC per batch.
    CLUSTER_SECRET: 'p10-bench-cluster-secret-0123456789abcdef',
  };
  const gws: GatewayProcess[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  const local: number[] = [];
  const remote: number[] = [];
  const ratios: number[] = [];
  const peaks: number[] = [];
  const cuts: string[] = [];
  let violations = 0;
  let loss = 0;
  let forwarded = 0;
  let owner = '';
  try {
    const a = await startGw(sim, { ...env, INSTANCE_ID: 'p10-a' });
    gws.push(a);
    const b = await startGw(sim, { ...env, INSTANCE_ID: 'p10-b' });
    gws.push(b);
    const memberA = member(a);
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
    const sessionB = await session();
    /** B's subscribers, forwarded to A (checked on B's log); connected again after a cut. */
    const connectB = async () => {
      const subs = await gatewayFanout(b, subscribers, '127.0.0.1', sessionB);
      const expected = forwarded + subscribers;
      const count = () => b.output.filter((l) => l.includes('forwarding to the owning instance')).length;
      // the logger flushes asynchronously: wait for the lines
      await until(() => count() >= expected, 10_000, `B's forwarded clients`, 50).catch(() => {
        throw new Error(`only ${count() - forwarded} of B's ${subscribers} subscribers logged as forwarded`);
      });
      forwarded = expected;
      return subs;
    };
    let throughRedis = await connectB();
    closers.push(() => throughRedis.close());

    /** One turn; when it neither completes nor ends in closes, logs what each side saw, then fails. */
    const turn = async (name: string, subs: typeof inProcess, n: number, endOnClose = false) => {
      try {
        return await subs.run(`bench:${n}`, n, { timeoutMs: 60_000, endOnClose });
      } catch (err) {
        ctx.log(`P10 ${name} turn of ${n} did not complete: ${describe(subs.progress(), n)}`);
        logNotable(ctx, gws);
        throw err;
      }
    };
    /** A through-Redis turn with the subscriber output buffers sampled; a cut turn is logged and counted. */
    const redisTurn = async (name: string, n: number): Promise<TurnRun | undefined> => {
      const sampler = bufferSampler(redis);
      let t: TurnRun;
      try {
        t = await turn(name, throughRedis, n, true);
      } finally {
        peaks.push(await sampler.stop());
      }
      const complete = t.subs.every((s) => s.done);
      loss = Math.max(loss, t.lossPerSubscriber);
      violations += t.seqViolations;
      if (complete) return t;
      const cut = `${name}: ${describe(t.subs, n)}; peak pub/sub output buffer ${(peaks.at(-1)! / MiB).toFixed(1)} MiB`;
      cuts.push(cut);
      ctx.log(`P10 ${cut}`);
      await throughRedis.close();
      await sleep(1000); // the gateways' loggers flush asynchronously
      logNotable(ctx, gws);
      throughRedis = await connectB();
      return undefined;
    };

    const warm = Math.min(frames, 1000);
    await turn('in-process warm-up', inProcess, warm);
    await redisTurn('through-Redis warm-up', warm);
    for (let r = 0; r < reps; r++) {
      const l = await turn('in-process', inProcess, frames);
      local.push(l.framesPerSecond);
      loss = Math.max(loss, l.lossPerSubscriber);
      violations += l.seqViolations;
      const t = await redisTurn(`through-Redis rep ${r + 1}`, frames);
      ctx.log(
        `P10 rep ${r + 1}: in-process ${Math.round(l.framesPerSecond)} f/s (loss ${l.lossPerSubscriber}, seq violations ${l.seqViolations}), through Redis ${t ? `${Math.round(t.framesPerSecond)} f/s (loss ${t.lossPerSubscriber}, seq violations ${t.seqViolations}, delivered ${t.delivered}/${frames * subscribers})` : 'CUT (see above)'}; peak pub/sub output buffer ${(peaks.at(-1)! / MiB).toFixed(1)} MiB`,
      );
      if (!t) continue;
      remote.push(t.framesPerSecond);
      ratios.push(t.framesPerSecond / l.framesPerSecond);
    }
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    for (const gw of gws.reverse()) await gw.stop();
    await sim.stop();
    rmSync(dataDir, { recursive: true, force: true });
    const removed = await deleteKeys(redis, prefix).catch((err: Error) => {
      ctx.log(`P10 could not remove the Redis keys ${prefix}:*: ${err.message}`);
      return NaN;
    });
    ctx.log(`P10 removed ${removed} Redis key(s) ${prefix}:*`);
    redis.disconnect();
  }
  const peak = Math.max(...peaks);
  const limit = pubsubLimit ? `${(pubsubLimit / MiB).toFixed(0)} MiB` : 'unknown';
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
      pubsubOutputBufferHardLimit: pubsubLimit,
    },
    extra: { cuts, peakPubsubOutputBytes: peaks },
    rows: [
      {
        id: 'P10',
        metric: 'delivered frames/s (1 session → 100 subs on the other instance, via Redis)',
        unit: 'frames/s',
        gateway: summary(remote.length ? remote : [NaN]),
        baseline: { name: 'in-process (100 subs on the owner)', ...summary(local) },
        ratio: summary(ratios.length ? ratios : [NaN]),
        ratioKind: 'ratio',
        target: 'none (ratio only); 0 loss, seq increasing',
        met: loss === 0 && violations === 0 && cuts.length === 0,
        notes:
          `loss/subscriber ${loss}, seq violations ${violations}, through-Redis turns cut ${cuts.length}/${reps + 1}` +
          ` (warm-up included), peak pub/sub output buffer ${(peak / MiB).toFixed(1)} MiB (Redis limit ${limit})`,
      },
    ],
  };
}

/** Counts of a turn's subscribers: turn end seen, deltas received, close codes. */
function describe(subs: TurnRun['subs'], expected: number): string {
  const deltas = subs.map((s) => s.deltas);
  const codes = [...new Set(subs.map((s) => s.closedCode).filter((c) => c !== undefined))];
  return (
    `${subs.filter((s) => s.done).length}/${subs.length} saw the turn end; deltas per subscriber ` +
    `min ${Math.min(...deltas)} max ${Math.max(...deltas)} total ${deltas.reduce((x, y) => x + y, 0)}` +
    `/${expected * subs.length}; close codes ${codes.join(',') || 'none'}`
  );
}

/** The gateways' warnings, errors and cluster lines (the last 15 each). */
function logNotable(ctx: BenchContext, gws: GatewayProcess[]): void {
  gws.forEach((gw, i) => {
    const notable = gw.output.filter((l) => /WARN|ERROR|cluster bus|slow consumer/.test(l));
    ctx.log(`P10 gateway ${'AB'[i]} warnings/errors (last 15 of ${notable.length}):`);
    for (const l of notable.slice(-15)) ctx.log(`  ${l}`);
  });
}

/** This process's bus member name, from its `cluster member <member>` start-up line. */
function member(gw: GatewayProcess): string {
  for (const line of gw.output) {
    const m = /cluster member (\S+)/.exec(line);
    if (m) return m[1];
  }
  throw new Error(`gateway on port ${gw.port} logged no "cluster member" line (not in lease mode?)`);
}

/** Redis's hard output-buffer limit for pub/sub clients, in bytes (0: unknown or none). */
async function pubsubHardLimit(redis: Redis): Promise<number> {
  try {
    const [, value] = (await redis.config('GET', 'client-output-buffer-limit')) as string[];
    const m = /pubsub (\d+)/.exec(value ?? '');
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Samples `CLIENT LIST TYPE pubsub` every 100 ms (at most 20 min) and keeps the largest `omem`: the
 * bytes Redis holds for a subscriber that reads slower than messages are published. Any pub/sub client
 * of this Redis counts; during the turn that is B's inbox subscriber.
 */
function bufferSampler(redis: Redis): { stop(): Promise<number> } {
  let peak = 0;
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; i < 12_000 && !stopped; i++) {
      const list = (await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
      for (const m of list.matchAll(/ omem=(\d+)/g)) peak = Math.max(peak, Number(m[1]));
      await sleep(100);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop.catch(() => undefined);
      return peak;
    },
  };
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
