/**
 * P1 sweeps: delivered events/s of the four fan-out systems (raw ws relay, Socket.IO 4, gateway v1,
 * gateway v2) over the number of subscribers of one session, and over the number of sessions streaming
 * at once with a fixed total of 100 subscribers (100/S per session). One measured turn per point and
 * system after a short warm-up turn, systems alternated within each point. Each point streams about
 * the same number of deliveries, so that small and large points take comparable time:
 * - subscribers k: `bench:N` with N = clamp(budget / k, 1,000, 20,000) (quick: 500–5,000);
 * - sessions S: N = round(10,000 / √S) per session (quick 2,000 / √S), every session at once.
 * The points go into the result's `extra.sweeps`; `node bench/chart.js <results.json>` draws them.
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
import { openGroup, SYSTEM_LABELS, SYSTEMS, type SystemName, type Targets } from '../lib/systems';
import { FANOUT_GATEWAY_ENV } from './p1-fanout';

export interface SweepPoint {
  /** Subscribers per session and sessions streaming at once. */
  subscribers: number;
  sessions: number;
  eventsPerSession: number;
  /** Delivered events/s per system, with loss and `seq` checks. */
  systems: Partial<
    Record<SystemName, { eventsPerSecond: number; lossPerSubscriber: number; seqViolations: number }>
  >;
  v2ProtocolVersion?: number;
}

export interface Sweeps {
  subscribers: SweepPoint[];
  sessions: SweepPoint[];
}

async function measure(
  ctx: BenchContext,
  t: Targets,
  sessions: number,
  perSession: number,
  events: number,
): Promise<SweepPoint> {
  const point: SweepPoint = { subscribers: perSession, sessions, eventsPerSession: events, systems: {} };
  for (const system of SYSTEMS) {
    const group = await openGroup(system, t, sessions, perSession);
    try {
      if (system === 'v2') point.v2ProtocolVersion = group.protocolVersion;
      await group.run(Math.min(events, 500));
      const turn = await group.run(events);
      point.systems[system] = {
        eventsPerSecond: turn.framesPerSecond,
        lossPerSubscriber: turn.lossPerSubscriber,
        seqViolations: turn.seqViolations,
      };
    } finally {
      await group.close();
    }
  }
  ctx.log(
    `P1 sweep ${sessions} session(s) × ${perSession} subscriber(s), ${events} events each: ` +
      SYSTEMS.map((s) => `${s} ${Math.round(point.systems[s]!.eventsPerSecond)}`).join(', '),
  );
  return point;
}

function pointRows(kind: string, points: SweepPoint[]): Row[] {
  return points.map((p) => {
    const s = p.systems;
    const clean = SYSTEMS.every((n) => s[n]!.lossPerSubscriber === 0 && s[n]!.seqViolations === 0);
    const v2 = s.v2!.eventsPerSecond;
    const label =
      kind === 'subscribers'
        ? `1 session × ${p.subscribers} subs`
        : `${p.sessions} session${p.sessions === 1 ? '' : 's'} × ${p.subscribers} subs`;
    return {
      id: 'P1',
      metric: `sweep ${label}: v2 delivered events/s`,
      unit: 'events/s',
      gateway: summary([v2]),
      baseline: { name: SYSTEM_LABELS.relay, ...summary([s.relay!.eventsPerSecond]) },
      ratio: summary([v2 / s.relay!.eventsPerSecond]),
      ratioKind: 'ratio',
      target: '—',
      met: null,
      notes:
        `v1 ${Math.round(s.v1!.eventsPerSecond).toLocaleString('en-US')}, Socket.IO ${Math.round(s.socketio!.eventsPerSecond).toLocaleString('en-US')}; ` +
        `${clean ? '0 loss, 0 seq violations' : 'LOSS OR SEQ VIOLATIONS (see JSON)'}` +
        (p.v2ProtocolVersion === 2 ? '' : `; gateway answered v${p.v2ProtocolVersion}`),
    };
  });
}

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const subscriberPoints = ctx.quick ? [1, 10, 100] : [1, 10, 100, 1_000];
  const sessionPoints = ctx.quick ? [1, 10] : [1, 10, 100];
  const totalSubscribers = 100;
  const budget = ctx.quick ? 200_000 : 1_000_000;
  const [lo, hi] = ctx.quick ? [500, 5_000] : [1_000, 20_000];
  const perSessionBase = ctx.quick ? 2_000 : 10_000;
  const sim = await startSim();
  const relay = await startHelper('relay.js');
  const socketio = await startHelper('socketio-relay.js');
  const gw = await startGw(sim, FANOUT_GATEWAY_ENV);
  const t = { sim, gw, relay, socketio };
  const sweeps: Sweeps = { subscribers: [], sessions: [] };
  try {
    for (const k of subscriberPoints) {
      const events = Math.round(Math.min(hi, Math.max(lo, budget / k)));
      sweeps.subscribers.push(await measure(ctx, t, 1, k, events));
    }
    for (const s of sessionPoints) {
      const events = Math.round(perSessionBase / Math.sqrt(s));
      sweeps.sessions.push(await measure(ctx, t, s, totalSubscribers / s, events));
    }
  } finally {
    await gw.stop();
    await socketio.stop();
    await relay.stop();
    await sim.stop();
  }
  return {
    id: 'P1S',
    name: 'fan-out sweeps',
    params: {
      subscriberPoints,
      sessionPoints,
      totalSubscribersInSessionSweep: totalSubscribers,
      deliveriesBudget: budget,
      eventsClamp: [lo, hi],
      eventsPerSessionBase: perSessionBase,
      repsPerPoint: 1,
    },
    extra: { sweeps },
    rows: [...pointRows('subscribers', sweeps.subscribers), ...pointRows('sessions', sweeps.sessions)],
  };
}
