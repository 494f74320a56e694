import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The production entry point (npm start, the image): the bundled gateway, scripts/bundle-gateway.js. */
export const GATEWAY_ENTRY = resolve(__dirname, '../../dist/gateway/main.js');
/** The gateway with the worked example extension of docs/extending.md. */
export const AUDIT_EXTENSION_ENTRY = resolve(
  __dirname,
  '../../dist/apps/gateway/examples/audit-extension/main.js',
);
/** The gateway with the partner-issuer example of docs/extending.md (d). */
export const PARTNER_ISSUER_ENTRY = resolve(
  __dirname,
  '../../dist/apps/gateway/examples/partner-issuer/main.js',
);

export interface GatewayProcess {
  url: string;
  port: number;
  dataDir: string;
  proc: ChildProcess;
  /** Every line the process wrote (stdout and stderr). */
  output: string[];
  /** Sends a signal and resolves with the exit code (or the signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  exited: Promise<number | string>;
}

export function tempDataDir(prefix = 'dim-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Starts the built gateway as a real process on an ephemeral loopback port and resolves once it
 * listens. `env` is the whole configuration: nothing leaks in from the test runner's environment
 * except PATH and HOME.
 */
export async function startGateway(
  env: Record<string, string> = {},
  timeoutMs = 15_000,
  entry = GATEWAY_ENTRY,
): Promise<GatewayProcess> {
  const dataDir = env.DATA_DIR ?? tempDataDir();
  const proc = spawn(process.execPath, [entry], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      PODIUM_URL: 'http://127.0.0.1:9',
      ...env,
      DATA_DIR: dataDir,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | string>((res) =>
    proc.on('exit', (code, sig) => res(code ?? sig ?? -1)),
  );
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`gateway did not start:\n${output.join('\n')}`)),
      timeoutMs,
    );
    const onLine = (line: string) => {
      output.push(line);
      const m = /Gateway listening on [^:]+:(\d+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolvePort(Number(m[1]));
      }
    };
    for (const stream of [proc.stdout!, proc.stderr!]) {
      let buf = '';
      stream.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          onLine(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited (${code}) before listening:\n${output.join('\n')}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    proc,
    output,
    exited,
    stop: (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Runs the gateway expecting it to refuse to start; resolves with its exit code and output. */
export function runGatewayExpectingExit(
  env: Record<string, string>,
  entry = GATEWAY_ENTRY,
): Promise<{ code: number | null; output: string }> {
  return new Promise((res) => {
    const proc = spawn(process.execPath, [entry], {
      env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', DATA_DIR: tempDataDir(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    proc.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      res({ code, output });
    });
  });
}
