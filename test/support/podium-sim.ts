import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export const SIM_ENTRY = resolve(__dirname, '../../dist/apps/podium-sim/apps/podium-sim/src/main.js');
export const SIM_KEY = 'pod_test_key_123456';

export interface SimProcess {
  url: string;
  proc: ChildProcess;
  output: string[];
  stop(): Promise<void>;
  stats(): Promise<any>;
  config(knobs: Record<string, unknown>): Promise<any>;
  reset(): Promise<void>;
}

/** Starts the Podium simulator as a real process on an ephemeral loopback port. */
export async function startPodiumSim(env: Record<string, string> = {}): Promise<SimProcess> {
  const proc = spawn(process.execPath, [SIM_ENTRY], {
    env: {
      PATH: process.env.PATH ?? '',
      PODIUM_SIM_PORT: '0',
      PODIUM_SIM_API_KEY: SIM_KEY,
      PODIUM_SIM_TOKEN_DELAY_MS: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`podium-sim did not start: ${output.join('\n')}`)), 10_000);
    const onData = (c: Buffer) => {
      for (const line of c.toString().split('\n')) {
        if (!line) continue;
        output.push(line);
        const m = /listening on (http:\/\/[^\s]+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          res(m[1]);
        }
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.on('exit', (code) => rej(new Error(`podium-sim exited ${code}: ${output.join('\n')}`)));
  });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return text ? JSON.parse(text) : undefined;
  };
  return {
    url,
    proc,
    output,
    stop: () =>
      new Promise((r) => {
        if (proc.exitCode !== null) return r();
        proc.on('exit', () => r());
        proc.kill('SIGTERM');
      }),
    stats: () => call('GET', '/_sim/stats'),
    config: (knobs) => call('POST', '/_sim/config', knobs),
    reset: async () => {
      await call('POST', '/_sim/reset', {});
    },
  };
}
