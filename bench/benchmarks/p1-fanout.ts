/**
 * P1: fan-out throughput, 1 session → 100 subscribers, upstream at saturation (`bench:N`). Four
 * systems stream the same turn, alternated within each repetition: the raw ws relay, Socket.IO 4 room
 * broadcast, the gateway with v1 subscribers (one frame per event) and with v2 subscribers (coalesced
 * `batch` frames). Events delivered/s = events received by all subscribers / (first → last receive).
 */
import {
  startGw,
  startHelper,
  startSim,
  summary,
  type BenchContext,
  type BenchResult,
  type Row,
} from '../lib/common';
import { openGroup, SYSTEM_LABELS, SYSTEMS, type Group, type SystemName } from '../lib/systems';

/** The slow-consumer skip/close thresholds, lifted so that the figure is fan-out cost, not P8's policy. */
export const FANOUT_GATEWAY_ENV = {
  WS_BACKPRESSURE_SKIP_BYTES: String(512 << 20),
  WS_BACKPRESSURE_CLOSE_BYTES: String(1024 << 20),
};

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const subscribers = 100;
  const events = ctx.quick ? 2_000 : 10_000;
  const reps = ctx.quick ? 2 : 5;
  const sim = await startSim();
  const relay = await startHelper('relay.js');
  const socketio = await startHelper('socketio-relay.js');
  const gw = await startGw(sim, FANOUT_GATEWAY_ENV);
  const targets = { sim, gw, relay, socketio };
  const rates: Record<SystemName, number[]> = { relay: [], socketio: [], v1: [], v2: [] };
  const loss: Record<SystemName, number> = { relay: 0, socketio: 0, v1: 0, v2: 0 };
  const violations: Record<SystemName, number> = { relay: 0, socketio: 0, v1: 0, v2: 0 };
  let eventsPerFrame = NaN;
  const groups: Group[] = [];
  let v2Version: number | undefined;
  try {
    for (const system of SYSTEMS) groups.push(await openGroup(system, targets, 1, subscribers));
    v2Version = groups.find((g) => g.system === 'v2')?.protocolVersion;
    for (const g of groups) await g.run(Math.min(events, 1000)); // warm-up (JIT) for each
    for (let r = 0; r < reps; r++) {
      const line: string[] = [];
      for (const g of groups) {
        const turn = await g.run(events);
        rates[g.system].push(turn.framesPerSecond);
        loss[g.system] = Math.max(loss[g.system], turn.lossPerSubscriber);
        violations[g.system] += turn.seqViolations;
        if (g.system === 'v2') eventsPerFrame = turn.delivered / turn.messages;
        line.push(`${g.system} ${Math.round(turn.framesPerSecond)}`);
      }
      ctx.log(`P1 rep ${r + 1}: events/s ${line.join(', ')}`);
    }
  } finally {
    await Promise.all(groups.map((g) => g.close()));
    await gw.stop();
    await socketio.stop();
    await relay.stop();
    await sim.stop();
  }
  const ratio = (a: SystemName, b: SystemName) => summary(rates[a].map((x, i) => x / rates[b][i]));
  const base = (b: SystemName) => ({ name: SYSTEM_LABELS[b], ...summary(rates[b]) });
  const clean = (s: SystemName) => loss[s] === 0 && violations[s] === 0;
  const quality = (s: SystemName) => `loss/subscriber ${loss[s]}, seq violations ${violations[s]}`;
  const v2Note =
    v2Version === 2
      ? `${quality('v2')}; ${eventsPerFrame.toFixed(1)} events per frame`
      : `the gateway answered protocolVersion ${v2Version}: no v2 on this build, the row measures v1`;
  const v1Relay = ratio('v1', 'relay');
  const v2Relay = ratio('v2', 'relay');
  const v2Sio = ratio('v2', 'socketio');
  const v2 = summary(rates.v2);
  const row = (r: Omit<Row, 'id' | 'unit' | 'ratioKind'>): Row => ({
    id: 'P1',
    unit: 'events/s',
    ratioKind: 'ratio',
    ...r,
  });
  return {
    id: 'P1',
    name: 'fan-out',
    params: {
      subscribers,
      eventsPerTurn: events,
      reps,
      order: SYSTEMS,
      backpressureSkipBytes: 512 << 20,
      v2ProtocolVersion: v2Version,
    },
    extra: { eventsPerFrameV2: eventsPerFrame, loss, violations },
    rows: [
      row({
        metric: 'v1: delivered events/s (1 session → 100 subs, one frame per event)',
        gateway: summary(rates.v1),
        baseline: base('relay'),
        ratio: v1Relay,
        target: '≥ 0.8× relay, 0 loss, seq increasing',
        met: v1Relay.median >= 0.8 && clean('v1'),
        notes: quality('v1'),
      }),
      row({
        metric: 'v1 vs Socket.IO room broadcast',
        gateway: summary(rates.v1),
        baseline: base('socketio'),
        ratio: ratio('v1', 'socketio'),
        target: '—',
        met: null,
        notes: `Socket.IO ${quality('socketio')}; relay ${quality('relay')}`,
      }),
      row({
        metric: 'v2: delivered events/s (1 session → 100 subs, coalesced frames)',
        gateway: v2,
        baseline: base('relay'),
        ratio: v2Relay,
        target: '≥ 500,000 events/s, ≥ 3× relay, 0 loss, seq increasing',
        met: v2Version === 2 && v2.median >= 500_000 && v2Relay.median >= 3 && clean('v2'),
        notes: v2Note,
      }),
      row({
        metric: 'v2 vs Socket.IO room broadcast',
        gateway: v2,
        baseline: base('socketio'),
        ratio: v2Sio,
        target: '≥ 3× Socket.IO',
        met: v2Version === 2 && v2Sio.median >= 3 && clean('v2'),
      }),
    ],
  };
}
