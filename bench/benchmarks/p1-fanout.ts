/** P1: fan-out throughput, 1 session → 100 subscribers, upstream at saturation (`bench:N`). */
import { startHelper, startGw, startSim, summary, type BenchContext, type BenchResult } from '../lib/common';
import { gatewayFanout, relayFanout } from '../lib/fanout';

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const subscribers = 100;
  const frames = ctx.quick ? 2_000 : 10_000;
  const reps = ctx.quick ? 2 : 3;
  const sim = await startSim();
  const relay = await startHelper('relay.js');
  // The skip/close policy is lifted so that the figure is fan-out cost, not the slow-consumer policy (P8).
  const gw = await startGw(sim, {
    WS_BACKPRESSURE_SKIP_BYTES: String(512 << 20),
    WS_BACKPRESSURE_CLOSE_BYTES: String(1024 << 20),
  });
  const relaySubs = await relayFanout(relay.port, sim, subscribers);
  const gwSubs = await gatewayFanout(gw, subscribers);
  const g: number[] = [];
  const b: number[] = [];
  const ratios: number[] = [];
  let violations = 0;
  let loss = 0;
  try {
    // warm-up (JIT) for both
    await relaySubs.run(`bench:${Math.min(frames, 1000)}`, Math.min(frames, 1000));
    await gwSubs.run(`bench:${Math.min(frames, 1000)}`, Math.min(frames, 1000));
    for (let r = 0; r < reps; r++) {
      const base = await relaySubs.run(`bench:${frames}`, frames);
      const gate = await gwSubs.run(`bench:${frames}`, frames);
      ctx.log(
        `P1 rep ${r + 1}: relay ${Math.round(base.framesPerSecond)} f/s, gateway ${Math.round(gate.framesPerSecond)} f/s (loss ${gate.lossPerSubscriber}, seq violations ${gate.seqViolations})`,
      );
      b.push(base.framesPerSecond);
      g.push(gate.framesPerSecond);
      ratios.push(gate.framesPerSecond / base.framesPerSecond);
      violations += gate.seqViolations;
      loss = Math.max(loss, gate.lossPerSubscriber);
    }
  } finally {
    await gwSubs.close();
    await relaySubs.close();
    await gw.stop();
    await relay.stop();
    await sim.stop();
  }
  const ratio = summary(ratios);
  return {
    id: 'P1',
    name: 'fan-out',
    params: { subscribers, framesPerTurn: frames, reps, backpressureSkipBytes: 512 << 20 },
    rows: [
      {
        id: 'P1',
        metric: 'delivered frames/s (1 session → 100 subs)',
        unit: 'frames/s',
        gateway: summary(g),
        baseline: { name: 'raw ws relay', ...summary(b) },
        ratio,
        ratioKind: 'ratio',
        target: '≥ 0.8× relay, 0 loss, seq increasing',
        met: ratio.median >= 0.8 && loss === 0 && violations === 0,
        notes: `loss/subscriber ${loss}, seq violations ${violations}`,
      },
    ],
  };
}
