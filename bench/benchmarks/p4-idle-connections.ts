/**
 * P4: idle authenticated connections. N typed clients (dev auth) spread over 127.0.0.1–127.0.0.4
 * connect (100 in flight), are held `holdSeconds` while the gateway's RSS is sampled, then closed.
 * RSS slope = (RSS with N held − RSS before) / N. Baseline: the raw ws relay process holding the
 * same N raw sockets (no hold). File descriptors: this process and the gateway each hold N sockets;
 * the hard limit here is 20,000 per process (`ulimit -n`), so N = 10,000 (quick: 1,000) fits without
 * raising it; the bench refuses N above 90% of the soft limit. `--p4-conns=19000` runs the stretch
 * target (19,000 in one process, up to the limit less 500 descriptors).
 */
import { execSync } from 'node:child_process';
import WebSocket from 'ws';
import { DiminuendoClient } from '@app/client';
import {
  pool,
  rssKiB,
  sleep,
  startGw,
  startHelper,
  startSim,
  summary,
  type BenchContext,
  type BenchResult,
} from '../lib/common';

const ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];

function fdLimit(): number {
  try {
    return Number(execSync('sh -c "ulimit -n"').toString().trim());
  } catch {
    return 1024;
  }
}

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const wanted = ctx.p4Conns ?? (ctx.quick ? 1_000 : 10_000);
  const limit = fdLimit();
  // `--p4-conns` (the 19,000 stretch) may go up to the limit less a margin for the process's other files
  const n = Math.min(wanted, ctx.p4Conns ? limit - 500 : Math.floor(limit * 0.9) - 200);
  const sim = await startSim();
  const gw = await startGw(sim, { HEARTBEAT_INTERVAL_MS: '30000' });
  const relay = await startHelper('relay.js');
  let unexpected = 0;
  let closing = false;
  const samples: { t: number; rssKiB: number }[] = [];
  let slope = NaN;
  let baseSlope = NaN;
  let connectSeconds = NaN;
  try {
    // baseline: raw ws sockets on the relay
    await sleep(200);
    const relayBefore = rssKiB(relay.proc.pid!);
    const raw = await pool(Array.from({ length: n }), 100, async (_, i) => {
      const ws = new WebSocket(`ws://127.0.0.1:${relay.port}/`, {
        perMessageDeflate: false,
        localAddress: ADDRESSES[i % ADDRESSES.length],
      });
      await new Promise((res, rej) => {
        ws.once('message', res);
        ws.once('error', rej);
      });
      return ws;
    });
    await sleep(500);
    baseSlope = ((rssKiB(relay.proc.pid!) - relayBefore) * 1024) / n;
    await Promise.all(
      raw.map(
        (ws) =>
          new Promise((r) => {
            ws.once('close', r);
            ws.close();
          }),
      ),
    );
    await relay.stop();

    // gateway
    await sleep(500);
    const before = rssKiB(gw.proc.pid!);
    const t0 = Date.now();
    const clients = await pool(Array.from({ length: n }), 100, (_, i) =>
      DiminuendoClient.connect(gw.url, { localAddress: ADDRESSES[i % ADDRESSES.length], timeoutMs: 30_000 }),
    );
    connectSeconds = (Date.now() - t0) / 1000;
    for (const c of clients) {
      c.maxLog = 0;
      void c.closed.then(() => {
        if (!closing) unexpected++;
      });
    }
    ctx.log(
      `P4: ${n} connections authenticated in ${connectSeconds.toFixed(1)} s; holding ${ctx.holdSeconds} s`,
    );
    const start = Date.now();
    while (Date.now() - start < ctx.holdSeconds * 1000) {
      samples.push({ t: (Date.now() - start) / 1000, rssKiB: rssKiB(gw.proc.pid!) });
      await sleep(Math.min(5_000, ctx.holdSeconds * 1000));
    }
    samples.push({ t: (Date.now() - start) / 1000, rssKiB: rssKiB(gw.proc.pid!) });
    const held = samples[0].rssKiB;
    slope = ((held - before) * 1024) / n;
    ctx.log(
      `P4: RSS ${before} → ${held} KiB at connect, ${samples.at(-1)!.rssKiB} KiB after hold; ${unexpected} unexpected closes`,
    );
    closing = true;
    await Promise.all(clients.map((c) => c.close()));
  } finally {
    closing = true;
    await gw.stop();
    await relay.stop();
    await sim.stop();
  }
  const growth = samples.length > 1 ? ((samples.at(-1)!.rssKiB - samples[0].rssKiB) * 1024) / n : 0;
  return {
    id: 'P4',
    name: 'idle connections',
    params: { connections: n, sourceAddresses: ADDRESSES, holdSeconds: ctx.holdSeconds, fdSoftLimit: limit },
    extra: { rssSamples: samples, connectSeconds },
    rows: [
      {
        id: 'P4',
        metric: `${n.toLocaleString('en-US')} idle authenticated connections held ${ctx.holdSeconds} s: RSS per connection`,
        unit: 'B',
        gateway: summary([slope]),
        baseline: { name: 'raw ws server', ...summary([baseSlope]) },
        ratio: summary([slope / baseSlope]),
        ratioKind: 'ratio',
        target:
          n >= 19_000
            ? 'stretch: 19,000 in one process, ≤ 12 KiB/conn'
            : `10,000 held 5 min, ≤ 16 KiB/conn, 0 unexpected closes`,
        met:
          n >= 19_000
            ? slope <= 12 * 1024 && unexpected === 0
            : n >= 10_000 && ctx.holdSeconds >= 300 && slope <= 16 * 1024 && unexpected === 0
              ? true
              : n >= 10_000 && ctx.holdSeconds >= 300
                ? false
                : slope <= 16 * 1024 && unexpected === 0
                  ? null
                  : false,
        notes: `${unexpected} unexpected closes; RSS drift during hold ${Math.round(growth)} B/conn; connect+auth of all took ${connectSeconds.toFixed(1)} s`,
      },
    ],
  };
}
