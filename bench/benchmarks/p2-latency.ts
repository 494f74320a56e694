/**
 * P2: added latency at a fixed rate. The simulator's `pace:N:200:10` prompt emits 200 deltas/s in
 * bursts of 10, each stamped with its upstream send time; 100 subscribers record receive − stamp.
 * The same stream goes through the raw ws relay in the same run.
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
import { gatewayFanout, relayFanout } from '../lib/fanout';

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
    }
  } finally {
    await gwSubs.close();
    await relaySubs.close();
    await gw.stop();
    await relay.stop();
    await sim.stop();
  }
  const d99 = p.g99.map((g, i) => g - p.b99[i]);
  const d50 = p.g50.map((g, i) => g - p.b50[i]);
  const d999 = p.g999.map((g, i) => g - p.b999[i]);
  return {
    id: 'P2',
    name: 'added latency',
    params: { subscribers, upstreamRate: rate, burst, seconds, reps },
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
    ],
  };
}
