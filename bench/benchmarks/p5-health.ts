/**
 * P5: `GET /health/live` requests/s vs bare `node:http`. Load loop: 64 keep-alive TCP connections from
 * this process, one request in flight each (no pipelining), responses counted by their status line.
 * Node-based so it needs nothing installed (wrk/autocannon are not available here); being a single
 * thread it can cap both servers, which only narrows the ratio.
 */
import { connect } from 'node:net';
import {
  sleep,
  startGw,
  startHelper,
  startSim,
  summary,
  type BenchContext,
  type BenchResult,
} from '../lib/common';

export async function loadForProfile(port: number, path: string, seconds: number): Promise<number> {
  return load(port, path, seconds);
}

async function load(port: number, path: string, seconds: number, connections = 64): Promise<number> {
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`);
  let done = 0;
  let stop = false;
  const t0 = performance.now();
  await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise<void>((resolve, reject) => {
          const sock = connect(port, '127.0.0.1');
          sock.setNoDelay(true);
          let tail = '';
          sock.on('connect', () => sock.write(request));
          sock.on('data', (chunk) => {
            const text = tail + chunk.toString('latin1');
            let i = 0;
            let n = 0;
            while ((i = text.indexOf('HTTP/1.1 200', i)) >= 0) {
              n++;
              i += 12;
            }
            tail = text.slice(-12);
            if (tail.includes('HTTP/1.1 200')) tail = '';
            done += n;
            for (let k = 0; k < n; k++) {
              if (stop) return sock.end();
              sock.write(request);
            }
          });
          sock.on('close', () => resolve());
          sock.on('error', reject);
        }),
    ).concat([sleep(seconds * 1000).then(() => void (stop = true))]),
  );
  return done / ((performance.now() - t0) / 1000);
}

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const seconds = ctx.quick ? 2 : 5;
  const reps = ctx.quick ? 2 : 3;
  const sim = await startSim();
  const gw = await startGw(sim);
  const bare = await startHelper('bare-http.js');
  const g: number[] = [];
  const b: number[] = [];
  try {
    await load(bare.port, '/', 1);
    await load(gw.port, '/health/live', 1);
    for (let r = 0; r < reps; r++) {
      b.push(await load(bare.port, '/', seconds));
      g.push(await load(gw.port, '/health/live', seconds));
      ctx.log(
        `P5 rep ${r + 1}: bare ${Math.round(b.at(-1)!)} req/s, /health/live ${Math.round(g.at(-1)!)} req/s`,
      );
    }
  } finally {
    await bare.stop();
    await gw.stop();
    await sim.stop();
  }
  const ratio = summary(g.map((x, i) => x / b[i]));
  return {
    id: 'P5',
    name: '/health/live',
    params: {
      seconds,
      reps,
      connections: 64,
      loadGenerator: 'node net keep-alive loop, 1 in flight per connection',
    },
    rows: [
      {
        id: 'P5',
        metric: '/health/live requests/s',
        unit: 'req/s',
        gateway: summary(g),
        baseline: { name: 'bare node:http', ...summary(b) },
        ratio,
        ratioKind: 'ratio',
        target: '≥ 0.5× bare HTTP',
        met: ratio.median >= 0.5,
      },
    ],
  };
}
