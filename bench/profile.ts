/**
 * Profiles the gateway under one benchmark's load: `node -r ./bench/register.js bench/profile.ts
 * <health|fanout|latency|persist|connect|startup>`. Starts the gateway with `--cpu-prof`, drives the load, stops it and prints
 * the top functions by self time (the .cpuprofile is left in bench/results/profiles/ for DevTools).
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiminuendoClient } from '@app/client';
import { spawn } from 'node:child_process';
import { GATEWAY_ENTRY } from '../test/support/gateway-process';
import { getJson, pool, SIM_KEY, simInstanceIds, sleep, startSim, tempDataDir, until } from './lib/common';
import { emitBulkDurable } from './lib/bulk';
import { gatewayFanout } from './lib/fanout';

async function main(): Promise<void> {
  const what = process.argv[2] ?? 'health';
  const dir = join(__dirname, 'results', 'profiles', `${what}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const sim = await startSim();
  // the profiled gateway: same env as the benchmarks, started with --cpu-prof (not allowed in NODE_OPTIONS)
  const proc = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, GATEWAY_ENTRY], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: tempDataDir(),
      PODIUM_URL: sim.url,
      PODIUM_API_KEY: SIM_KEY,
      WS_RATE_LIMIT_MAX: '1000000',
      MAX_ACTIVE_SESSIONS_PER_TENANT: '0',
      WS_BACKPRESSURE_SKIP_BYTES: String(512 << 20),
      WS_BACKPRESSURE_CLOSE_BYTES: String(1024 << 20),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((res) => {
    let buf = '';
    proc.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const m = /Gateway listening on [^:]+:(\d+)/.exec(buf);
      if (m) res(Number(m[1]));
    });
  });
  const gw: any = {
    url: `http://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise((r) => {
        proc.on('exit', r);
        proc.kill('SIGTERM');
      }),
  };
  if (what === 'health') {
    const { loadForProfile } = require('./benchmarks/p5-health') as {
      loadForProfile(port: number, path: string, s: number): Promise<number>;
    };
    console.log(`${Math.round(await loadForProfile(gw.port, process.argv[3] ?? '/health/live', 5))} req/s`);
  } else if (what === 'fanout') {
    const subs = await gatewayFanout(gw, 100);
    const r = await subs.run('bench:10000', 10000);
    console.log(`${Math.round(r.framesPerSecond)} frames/s`);
    await subs.close();
  } else if (what === 'latency') {
    // P2: 100 subscribers, 200 deltas/s in bursts of 10 for 8 s
    const subs = await gatewayFanout(gw, 100);
    await subs.run('pace:1600:200:10', 1600, { latency: true });
    await subs.close();
  } else if (what === 'connect') {
    // P6: sequential connect + authenticate, then sequential create_session
    for (let i = 0; i < 1000; i++) await (await DiminuendoClient.connect(gw.url)).close();
    const c = await DiminuendoClient.connect(gw.url);
    for (let i = 0; i < 1000; i++) await c.request({ type: 'create_session', agentType: 'echo' });
    await c.close();
  } else if (what === 'startup') {
    // P9: the profile is the process start itself, up to ready
    await until(async () => (await fetch(`${gw.url}/health/ready`)).status === 200, 10_000, 'ready', 5);
  } else if (what === 'persist') {
    // P3's load: 100 live sessions without watchers, 3 × 1,000 durable events each through the sim's bulk emit
    const c = await DiminuendoClient.connect(gw.url);
    c.maxLog = 0;
    await pool(Array.from({ length: 100 }), 10, async () => {
      const s = await c.request<any>({ type: 'create_session', agentType: 'echo' });
      await c.request({ type: 'join_session', sessionId: s.session.id });
      await c.request({ type: 'leave_session', sessionId: s.session.id });
    });
    const ids = await simInstanceIds(sim);
    const base = (await getJson(`${gw.url}/health`)).writer.rows;
    // `persist paced`: 50,000 events/s over the 100 sessions for 6 s (P3's paced row) instead of bursts
    if (process.argv[3] === 'paced') await emitBulkDurable(sim, ids, 3000, 500);
    else for (let k = 0; k < 3; k++) await emitBulkDurable(sim, ids, 1000);
    await until(
      async () => (await getJson(`${gw.url}/health`)).writer.rows - base >= 300_000,
      120_000,
      'rows',
      50,
    );
    await c.close();
  }
  await gw.stop();
  await sim.stop();
  await sleep(200);
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no profile written');
  const prof = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const self = new Map<string, number>();
  const byId = new Map<number, any>(prof.nodes.map((n: any) => [n.id, n]));
  const dt: number[] = prof.timeDeltas;
  prof.samples.forEach((id: number, i: number) => {
    const n = byId.get(id);
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, 'dist/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`profile: ${join(dir, file)}\ntop functions by self time:`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
    console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
