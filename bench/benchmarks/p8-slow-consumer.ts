/**
 * P8: slow consumer. 11 subscribers of one session receive a paced stream (4,000 deltas/s in bursts
 * of 10, ~0.5 MB/s each) with WS_BACKPRESSURE_CLOSE_BYTES = 1 MiB. Control run: everyone reads.
 * Slow run: one subscriber stops reading (its TCP socket is paused) as the turn starts. Reported: the
 * time from the pause to the gateway's `slow consumer: closing` log line (close 1013 expected) — an upper bound of "cut within 5 s of 1 MiB
 * buffered", since it also includes filling the kernel socket buffers before `bufferedAmount` grows —
 * and the other 10 subscribers' p99 latency with the slow consumer vs without.
 */
import {
  percentile,
  preciseNow,
  startGw,
  startSim,
  summary,
  type BenchContext,
  type BenchResult,
} from '../lib/common';
import { DiminuendoClient } from '@app/client';
import { gatewayFanout } from '../lib/fanout';

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const n = 11;
  const slow = n - 1;
  const rate = 4000;
  // 20 s in quick runs too: the paused socket's kernel buffers take several seconds to fill before the
  // gateway sees a backlog
  const seconds = 20;
  const frames = rate * seconds;
  const reps = ctx.quick ? 1 : 2;
  const prompt = `pace:${frames}:${rate}:10`;
  const sim = await startSim();
  // The gateway's defaults: skip deltas above 1 MiB buffered, cut at 8 MiB or after 4 s above 1 MiB.
  const gw = await startGw(sim, {});
  const controlP99: number[] = [];
  const slowP99: number[] = [];
  const cutMs: number[] = [];
  /** Reported by the gateway when it cuts: ms from the buffer first exceeding 1 MiB to the cut. */
  const congestedMs: number[] = [];
  const codes: number[] = [];
  try {
    for (let r = 0; r < reps; r++) {
      const subs = await gatewayFanout(gw, n);
      const exclude = new Set([slow]);
      await subs.run('bench:500', 500, { exclude });
      const control = await subs.run(prompt, frames, { latency: true, exclude });
      controlP99.push(percentile(control.latenciesMs.sort() as any, 99, true));
      let pausedAt = 0;
      let closedAt = 0;
      let cutLoggedAt = 0;
      const watch = (chunk: Buffer) => {
        const text = chunk.toString();
        if (!cutLoggedAt && text.includes('slow consumer')) {
          cutLoggedAt = preciseNow();
          const m = /"congestedMs":(\d+)/.exec(text);
          congestedMs.push(m ? Number(m[1]) : NaN);
        }
      };
      gw.proc.stdout!.on('data', watch);
      gw.proc.stderr!.on('data', watch);
      // The slow consumer is a fresh connection: the kernel grows the receive buffer of a socket that
      // reads fast (up to tcp_rmem's maximum, 32 MiB here), so the connection that read the control run
      // could absorb 20–40 s of this stream before the gateway sees a backlog; a new one starts at the
      // default (128 KiB). The old one leaves the session first, so 11 subscribers stay.
      await subs.clients[slow].close();
      const slowClient = await DiminuendoClient.connect(gw.url);
      slowClient.maxLog = 0;
      await slowClient.request({ type: 'join_session', sessionId: subs.sessionId });
      void slowClient.closed.then(({ code }) => {
        closedAt = preciseNow();
        codes.push(code);
      });
      const loaded = await subs.run(prompt, frames, {
        latency: true,
        exclude,
        onStarted: () => {
          (slowClient.socket as any)._socket.pause();
          pausedAt = preciseNow();
        },
      });
      // the slow client's close is observed only when it reads again
      (slowClient.socket as any)._socket.resume();
      const t = Date.now();
      while (!closedAt && Date.now() - t < 5000) await new Promise((res) => setTimeout(res, 20));
      // the close frame sits behind megabytes of buffered data, so the cut is timed by the gateway's
      // "slow consumer: closing" log line (read from its stdout as it is written)
      gw.proc.stdout!.off('data', watch);
      gw.proc.stderr!.off('data', watch);
      cutMs.push(cutLoggedAt ? cutLoggedAt - pausedAt : NaN);
      slowP99.push(percentile(loaded.latenciesMs.sort() as any, 99, true));
      ctx.log(
        `P8 rep ${r + 1}: others' p99 ${controlP99.at(-1)!.toFixed(2)} ms → ${slowP99.at(-1)!.toFixed(2)} ms with a slow consumer; slow client closed ${codes.at(-1)} after ≤ ${cutMs.at(-1)!.toFixed(0)} ms; others lost ${loaded.lossPerSubscriber}`,
      );
      await slowClient.close().catch(() => undefined);
      await subs.close();
    }
  } finally {
    await gw.stop();
    await sim.stop();
  }
  const ratio = summary(slowP99.map((s, i) => s / controlP99[i]));
  const cut = summary(cutMs);
  const afterMiB = summary(congestedMs);
  return {
    id: 'P8',
    name: 'slow consumer',
    params: { subscribers: n, rate, seconds, reps, closeBytes: 1 << 20 },
    rows: [
      {
        id: 'P8',
        metric: 'slow subscriber: 1 MiB buffered → cut (gateway-reported)',
        unit: 'ms',
        gateway: afterMiB,
        target: 'cut ≤ 5 s after 1 MiB buffered (close 1013)',
        met: codes.length === reps && codes.every((c) => c === 1013) && afterMiB.max <= 5000,
        notes: `close codes ${codes.join(',')}`,
      },
      {
        id: 'P8',
        metric: 'slow subscriber: pause → cut (includes kernel buffer fill)',
        unit: 'ms',
        gateway: cut,
        target: '—',
        met: null,
      },
      {
        id: 'P8',
        metric: "others' p99 with a slow consumer",
        unit: 'ms',
        gateway: summary(slowP99),
        baseline: { name: 'same, no slow consumer', ...summary(controlP99) },
        ratio,
        ratioKind: 'ratio',
        target: '≤ 1.5×',
        met: ratio.median <= 1.5,
      },
    ],
  };
}
