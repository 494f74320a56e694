/**
 * P2: added latency at a fixed rate. The simulator's `pace:N:200:10` prompt emits 200 deltas/s in
 * bursts of 10, each stamped with its upstream send time; 100 subscribers record receive − stamp.
 * The same stream goes through the raw ws relay in the same run, alternated per repetition with
 * gateway subscribers on protocol v1 and on protocol v2 (coalesced frames).
 */
import {
  percentile,
  startHelper,
  startGw,
  startSim,
  summary,
  type BenchContext,
  type BenchResult,
} from '../lib/common';
import { gatewayFanout, relayFanout, type Fanout } from '../lib/fanout';

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const subscribers = 100;
  const rate = 200;
  const burst = 10;
  const seconds = ctx.quick ? 3 : 8;
  const frames = rate * seconds;
  const reps = ctx.quick ? 1 : 3;
  const prompt = `pace:${frames}:${rate}:${burst}`;
  const sim = await startSim();
  const relay = await startHelper('relay.js');
  const gw = await startGw(sim);
  const relaySubs = await relayFanout(relay.port, sim, subscribers);
  const gwSubs = await gatewayFanout(gw, subscribers);
  const v2Subs = await gatewayFanout(gw, subscribers, '127.0.0.1', undefined, { protocol: 2 });
  const v2 = { p50: [] as number[], p99: [] as number[], p999: [] as number[], loss: 0 };
  const latencies = async (f: Fanout) => {
    const turn = await f.run(prompt, frames, { latency: true });
    const l = turn.latenciesMs.sort() as unknown as number[];
    return {
      turn,
      p50: percentile(l, 50, true),
      p99: percentile(l, 99, true),
      p999: percentile(l, 99.9, true),
    };
  };
  const p = {
    g50: [] as number[],
    g99: [] as number[],
    g999: [] as number[],
    b50: [] as number[],
    b99: [] as number[],
    b999: [] as number[],
  };
  let loss = 0;
  try {
    await relaySubs.run('bench:500', 500);
    await gwSubs.run('bench:500', 500);
    await v2Subs.run('bench:500', 500);
    for (let r = 0; r < reps; r++) {
      const base = await relaySubs.run(prompt, frames, { latency: true });
      const gate = await gwSubs.run(prompt, frames, { latency: true });
      loss = Math.max(loss, gate.lossPerSubscriber);
      const bl = base.latenciesMs.sort();
      const gl = gate.latenciesMs.sort();
      p.b50.push(percentile(bl as any, 50, true));
      p.b99.push(percentile(bl as any, 99, true));
      p.b999.push(percentile(bl as any, 99.9, true));
      p.g50.push(percentile(gl as any, 50, true));
      p.g99.push(percentile(gl as any, 99, true));
      p.g999.push(percentile(gl as any, 99.9, true));
      ctx.log(
        `P2 rep ${r + 1}: relay p50/p99/p99.9 ${p.b50.at(-1)!.toFixed(2)}/${p.b99.at(-1)!.toFixed(2)}/${p.b999.at(-1)!.toFixed(2)} ms; gateway ${p.g50.at(-1)!.toFixed(2)}/${p.g99.at(-1)!.toFixed(2)}/${p.g999.at(-1)!.toFixed(2)} ms (${gl.length} samples)`,
      );
      const w = await latencies(v2Subs);
      v2.p50.push(w.p50);
      v2.p99.push(w.p99);
      v2.p999.push(w.p999);
      v2.loss = Math.max(v2.loss, w.turn.lossPerSubscriber);
      ctx.log(
        `P2 rep ${r + 1}: gateway v2 ${w.p50.toFixed(2)}/${w.p99.toFixed(2)}/${w.p999.toFixed(2)} ms (${(w.turn.delivered / w.turn.messages).toFixed(2)} events per frame)`,
      );
    }
  } finally {
    await v2Subs.close();
    await gwSubs.close();
    await relaySubs.close();
    await gw.stop();
    await relay.stop();
    await sim.stop();
  }
  const d99 = p.g99.map((g, i) => g - p.b99[i]);
  const d50 = p.g50.map((g, i) => g - p.b50[i]);
  const d999 = p.g999.map((g, i) => g - p.b999[i]);
  const v2d99 = summary(v2.p99.map((g, i) => g - p.b99[i]));
  const v2Note =
    v2Subs.protocolVersion === 2
      ? `loss/subscriber ${v2.loss}`
      : `the gateway answered protocolVersion ${v2Subs.protocolVersion}: no v2 on this build, the row measures v1`;
  return {
    id: 'P2',
    name: 'added latency',
    params: {
      subscribers,
      upstreamRate: rate,
      burst,
      seconds,
      reps,
      v2ProtocolVersion: v2Subs.protocolVersion,
    },
    rows: [
      {
        id: 'P2',
        metric: 'delivery latency p50',
        unit: 'ms',
        gateway: summary(p.g50),
        baseline: { name: 'raw ws relay', ...summary(p.b50) },
        ratio: summary(d50),
        ratioKind: 'difference',
        target: '—',
        met: null,
      },
      {
        id: 'P2',
        metric: 'delivery latency p99',
        unit: 'ms',
        gateway: summary(p.g99),
        baseline: { name: 'raw ws relay', ...summary(p.b99) },
        ratio: summary(d99),
        ratioKind: 'difference',
        target: 'Δ p99 ≤ 5 ms',
        met: summary(d99).median <= 5 && loss === 0,
        notes: `loss/subscriber ${loss}`,
      },
      {
        id: 'P2',
        metric: 'delivery latency p99.9',
        unit: 'ms',
        gateway: summary(p.g999),
        baseline: { name: 'raw ws relay', ...summary(p.b999) },
        ratio: summary(d999),
        ratioKind: 'difference',
        target: 'p99.9 ≤ 20 ms',
        met: summary(p.g999).median <= 20,
      },
      {
        id: 'P2',
        metric: 'v2 (coalesced frames): delivery latency p99',
        unit: 'ms',
        gateway: summary(v2.p99),
        baseline: { name: 'raw ws relay', ...summary(p.b99) },
        ratio: v2d99,
        ratioKind: 'difference',
        target: 'Δ p99 ≤ 5 ms',
        met: v2Subs.protocolVersion === 2 && v2d99.median <= 5 && v2.loss === 0,
        notes: `${v2Note}; p50 ${summary(v2.p50).median.toFixed(2)} ms, p99.9 ${summary(v2.p999).median.toFixed(2)} ms`,
      },
    ],
  };
}
