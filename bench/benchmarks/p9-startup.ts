/**
 * P9: process start → `/health/ready` 200 on an empty DATA_DIR (the simulator is started first, as
 * readiness checks Podium). Timed from `spawn` to the first 200, polling every 5 ms once the port is
 * logged. Baseline: the same for the bare `node:http` script (Node's own start-up).
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { GATEWAY_ENTRY } from '../../test/support/gateway-process';
import {
  preciseNow,
  SIM_KEY,
  sleep,
  startSim,
  summary,
  tempDataDir,
  type BenchContext,
  type BenchResult,
} from '../lib/common';

async function timeToOk(
  entry: string,
  env: Record<string, string>,
  portPattern: RegExp,
  path: string,
): Promise<number> {
  const t0 = preciseNow();
  const proc = spawn(process.execPath, [entry], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const port = await new Promise<number>((res, rej) => {
      let buf = '';
      const timer = setTimeout(() => rej(new Error(`no port from ${entry}: ${buf}`)), 15_000);
      const on = (c: Buffer) => {
        buf += c.toString();
        const m = portPattern.exec(buf);
        if (m) {
          clearTimeout(timer);
          res(Number(m[1]));
        }
      };
      proc.stdout!.on('data', on);
      proc.stderr!.on('data', on);
    });
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}${path}`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return preciseNow() - t0;
      if (preciseNow() - t0 > 15_000) throw new Error('not ready in 15 s');
      await sleep(5);
    }
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.on('exit', r)));
  }
}

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const reps = ctx.quick ? 3 : 7;
  const sim = await startSim();
  const g: number[] = [];
  const b: number[] = [];
  try {
    for (let r = 0; r < reps; r++) {
      b.push(await timeToOk(resolve(__dirname, '..', 'bare-http.js'), {}, /listening on (\d+)/, '/'));
      g.push(
        await timeToOk(
          GATEWAY_ENTRY,
          {
            NODE_ENV: 'development',
            HOST: '127.0.0.1',
            PORT: '0',
            LOG_LEVEL: 'info',
            DATA_DIR: tempDataDir('bench-p9-'),
            PODIUM_URL: sim.url,
            PODIUM_API_KEY: SIM_KEY,
          },
          /Gateway listening on [^:]+:(\d+)/,
          '/health/ready',
        ),
      );
      ctx.log(
        `P9 rep ${r + 1}: gateway ready in ${g.at(-1)!.toFixed(0)} ms, bare node:http in ${b.at(-1)!.toFixed(0)} ms`,
      );
    }
  } finally {
    await sim.stop();
  }
  const gs = summary(g);
  return {
    id: 'P9',
    name: 'start-up',
    params: { reps, dataDir: 'fresh empty temp dir per run' },
    rows: [
      {
        id: 'P9',
        metric: 'process start → /health/ready 200 (empty DATA_DIR)',
        unit: 'ms',
        gateway: gs,
        baseline: { name: 'bare node:http start', ...summary(b) },
        ratio: summary(g.map((x, i) => x / b[i])),
        ratioKind: 'ratio',
        target: '≤ 500 ms',
        met: gs.median <= 500,
      },
    ],
  };
}
