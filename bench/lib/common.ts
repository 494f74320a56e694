/** Shared helpers of the benchmarks: processes, clocks, statistics, the simulator's REST API. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startGateway, tempDataDir, type GatewayProcess } from '../../test/support/gateway-process';
import { SIM_KEY, startPodiumSim, type SimProcess } from '../../test/support/podium-sim';

export { SIM_KEY, tempDataDir, type GatewayProcess, type SimProcess };

export interface BenchContext {
  quick: boolean;
  /** Seconds P4 holds its connections (full: 300, quick: 10). */
  holdSeconds: number;
  /** P4 connection count from `--p4-conns=N` (default: 10,000, quick 1,000). */
  p4Conns?: number;
  log(line: string): void;
}

/** One reported figure: the gateway's value, its baseline measured in the same run, and the ratio. */
export interface Row {
  id: string;
  metric: string;
  unit: string;
  gateway: Summary;
  baseline?: Summary & { name: string };
  /** gateway / baseline per repetition (or a difference, see `ratioKind`). */
  ratio?: Summary;
  ratioKind?: 'ratio' | 'difference';
  target: string;
  met: boolean | null;
  notes?: string;
}

export interface BenchResult {
  id: string;
  name: string;
  params: Record<string, unknown>;
  rows: Row[];
  extra?: Record<string, unknown>;
}

export interface Summary {
  min: number;
  median: number;
  max: number;
  runs: number[];
}

/** Wall-clock ms with sub-ms resolution; comparable with the simulator's `pace:` stamps. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

export function summary(values: number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  return { min: s[0], median: percentile(s, 50, true), max: s[s.length - 1], runs: values };
}

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number, sorted = false): number {
  if (values.length === 0) return NaN;
  const s = sorted ? values : Float64Array.from(values).sort();
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` every `everyMs` until true; throws after `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  everyMs = 5,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Resident set size of a process in KiB (Linux /proc). */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

export function startSim(env: Record<string, string> = {}): Promise<SimProcess> {
  return startPodiumSim({ PODIUM_SIM_TOKEN_DELAY_MS: '0', ...env });
}

/** The production build of the gateway in dev auth mode, pointed at the simulator. */
export function startGw(sim: SimProcess, env: Record<string, string> = {}): Promise<GatewayProcess> {
  return startGateway({
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    PODIUM_URL: sim.url,
    PODIUM_API_KEY: SIM_KEY,
    // The bench measures throughput, not the protections: no message rate limit, no cap on live agents
    // (P3 runs 100 sessions of one tenant, above the default cap of 50).
    WS_RATE_LIMIT_MAX: '1000000',
    MAX_ACTIVE_SESSIONS_PER_TENANT: '0',
    METRICS_ENABLED: 'true',
    ...env,
  });
}

/** A helper process of the bench (relay, bare HTTP) that prints `listening on PORT`. */
export interface Helper {
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export async function startHelper(script: string, env: Record<string, string> = {}): Promise<Helper> {
  const proc = spawn(process.execPath, [resolve(__dirname, '..', script)], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${script} did not start`)), 10_000);
    let buf = '';
    proc.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const m = /listening on (\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        res(Number(m[1]));
      }
    });
    proc.on('exit', (code) => rej(new Error(`${script} exited ${code}`)));
  });
  return {
    port,
    proc,
    stop: () =>
      new Promise((r) => {
        if (proc.exitCode !== null) return r();
        proc.on('exit', () => r());
        proc.kill('SIGTERM');
      }),
  };
}

export async function getJson(url: string): Promise<any> {
  const res = await fetch(url);
  return res.json();
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<any> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url} → ${res.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

/** A durable upstream frame (maps to `file_changed`, no registry write). */
export function fileChangedFrame(i: number): Record<string, unknown> {
  return {
    messageType: 'file.changed',
    content: {
      event_type: 'file.changed',
      path: `src/f${i % 100}.ts`,
      change_type: 'modified',
      iteration: i,
    },
  };
}

/** Pushes `count` durable frames to every live sim instance (optionally only `ids`), in chunks. */
export async function emitDurable(
  sim: SimProcess,
  ids: string[],
  count: number,
  chunk = 1000,
): Promise<void> {
  await pool(ids, 16, async (id) => {
    for (let sent = 0; sent < count; sent += chunk) {
      const n = Math.min(chunk, count - sent);
      const frames = Array.from({ length: n }, (_, j) => fileChangedFrame(sent + j));
      await postJson(`${sim.url}/_sim/instances/${id}/emit`, frames);
    }
  });
}

export async function simInstanceIds(sim: SimProcess): Promise<string[]> {
  const list = (await getJson(`${sim.url}/_sim/instances`)) as any[];
  return list.map((i) => i.instance_id ?? i.instanceId ?? i.id);
}

export function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(digits);
}
