/**
 * P6: connect + authenticate (dev) latency — sequential `DiminuendoClient.connect` (TCP + upgrade +
 * `welcome`/`connected` + `authenticated`), and `create_session` round-trip on one connection.
 * Reference (not a target baseline): a raw ws connect to the bare relay up to its first message.
 */
import WebSocket from 'ws';
import { DiminuendoClient } from '@app/client';
import {
  percentile,
  preciseNow,
  startGw,
  startHelper,
  startSim,
  summary,
  type BenchContext,
  type BenchResult,
} from '../lib/common';

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const n = ctx.quick ? 200 : 1000;
  const createWarmup = ctx.quick ? 200 : 1000;
  const coldCreateMs: number[] = [];
  const sim = await startSim();
  const gw = await startGw(sim);
  const relay = await startHelper('relay.js');
  const connectMs: number[] = [];
  const connectV2Ms: number[] = [];
  const rawMs: number[] = [];
  const createMs: number[] = [];
  const rawConnect = async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${relay.port}/`, { perMessageDeflate: false });
    await new Promise((res, rej) => {
      ws.once('message', res);
      ws.once('error', rej);
    });
    ws.terminate();
  };
  const gwConnect = async (query?: Record<string, string>) => {
    const c = await DiminuendoClient.connect(gw.url, { query });
    c.socket.terminate();
  };
  const timed = async (into: number[], keep: boolean, fn: () => Promise<void>) => {
    const t0 = preciseNow();
    await fn();
    if (keep) into.push(preciseNow() - t0);
  };
  try {
    // Interleaved sample by sample, so that the machine's load drifts over all three alike, and the
    // order rotated: a gateway connect that follows another one also absorbs the gateway's handling of
    // the previous close (its log line, its cleanup), so each system takes each position equally often.
    const systems: [number[], () => Promise<void>][] = [
      [rawMs, rawConnect],
      [connectMs, () => gwConnect()],
      [connectV2Ms, () => gwConnect({ protocolVersions: '1,2' })],
    ];
    for (let i = 0; i < n + 20; i++) {
      for (let k = 0; k < systems.length; k++) {
        const [into, connect] = systems[(i + k) % systems.length];
        await timed(into, i >= 20, connect);
      }
    }
    const c = await DiminuendoClient.connect(gw.url);
    c.maxLog = 0;
    // The first creates after start include V8's tier-up of the code they run (compilations at call
    // counts, at the same positions every run): measured after `createWarmup` of them, reported apart.
    for (let i = 0; i < createWarmup + n; i++) {
      const t0 = preciseNow();
      await c.request({ type: 'create_session', agentType: 'echo' });
      (i < createWarmup ? coldCreateMs : createMs).push(preciseNow() - t0);
    }
    await c.close();
  } finally {
    await relay.stop();
    await gw.stop();
    await sim.stop();
  }
  const s = (v: number[]) => v.sort((a, b) => a - b);
  s(connectMs);
  s(connectV2Ms);
  s(rawMs);
  s(createMs);
  s(coldCreateMs);
  const p = (v: number[], q: number) => summary([percentile(v, q, true)]);
  ctx.log(
    `P6: connect p50 v1 ${percentile(connectMs, 50, true).toFixed(2)} ms, v2 ${percentile(connectV2Ms, 50, true).toFixed(2)} ms, raw ${percentile(rawMs, 50, true).toFixed(2)} ms, create_session p50 ${percentile(createMs, 50, true).toFixed(2)} ms`,
  );
  return {
    id: 'P6',
    name: 'connect and create_session',
    params: { samples: n, warmup: 20, createWarmup, sequential: true },
    rows: [
      {
        id: 'P6',
        metric: 'connect + authenticate (dev), protocol v1 p50',
        unit: 'ms',
        gateway: p(connectMs, 50),
        baseline: { name: 'raw ws connect', ...p(rawMs, 50) },
        ratio: summary([percentile(connectMs, 50, true) / percentile(rawMs, 50, true)]),
        ratioKind: 'ratio',
        target: '≤ 1.3× raw ws connect',
        met: percentile(connectMs, 50, true) <= 1.3 * percentile(rawMs, 50, true),
      },
      {
        id: 'P6',
        metric: 'connect + authenticate (dev), protocol v2 (the SDK default) p50',
        unit: 'ms',
        gateway: p(connectV2Ms, 50),
        baseline: { name: 'raw ws connect', ...p(rawMs, 50) },
        ratio: summary([percentile(connectV2Ms, 50, true) / percentile(rawMs, 50, true)]),
        ratioKind: 'ratio',
        target: '≤ 1.3× raw ws connect',
        met: percentile(connectV2Ms, 50, true) <= 1.3 * percentile(rawMs, 50, true),
      },
      {
        id: 'P6',
        metric: 'connect + authenticate (dev) p99',
        unit: 'ms',
        gateway: p(connectMs, 99),
        baseline: { name: 'raw ws connect', ...p(rawMs, 99) },
        ratio: summary([percentile(connectMs, 99, true) / percentile(rawMs, 99, true)]),
        ratioKind: 'ratio',
        target: '≤ 5 ms',
        met: percentile(connectMs, 99, true) <= 5,
      },
      {
        id: 'P6',
        metric: `create_session p50 (after ${createWarmup} creates)`,
        unit: 'ms',
        gateway: p(createMs, 50),
        target: '≤ 1 ms',
        met: percentile(createMs, 50, true) <= 1,
      },
      {
        id: 'P6',
        metric: `create_session p99 (after ${createWarmup} creates)`,
        unit: 'ms',
        gateway: p(createMs, 99),
        target: '≤ 5 ms',
        met: percentile(createMs, 99, true) <= 5,
        notes: `the first ${createWarmup} after start: p50 ${percentile(coldCreateMs, 50, true).toFixed(2)} ms, p99 ${percentile(coldCreateMs, 99, true).toFixed(2)} ms`,
      },
    ],
  };
}
