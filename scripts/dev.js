#!/usr/bin/env node
/**
 * `npm run start:dev`: runs the built gateway in dev mode on :8080 with SQLite in ./data. Without
 * PODIUM_URL it also starts the bundled Podium simulator and points the gateway at it.
 */
const { spawn } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const env = { NODE_ENV: 'development', DATA_DIR: './data', ...process.env };
const children = [];

function run(name, entry, extraEnv) {
  const child = spawn(process.execPath, [path.join(root, entry)], {
    cwd: root,
    env: { ...env, ...extraEnv },
    stdio: 'inherit',
  });
  child.on('exit', (code, signal) => {
    console.log(`[dev] ${name} exited (${code ?? signal})`);
    shutdown(code ?? 0);
  });
  children.push(child);
  return child;
}

let stopping = false;
function shutdown(code) {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  setTimeout(() => process.exit(code), 12_000).unref();
  Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r() : c.on('exit', r))))).then(() =>
    process.exit(code),
  );
}
process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));

if (!process.env.PODIUM_URL) {
  const simPort = process.env.PODIUM_SIM_PORT || '5082';
  run('podium-sim', 'dist/apps/podium-sim/apps/podium-sim/src/main.js', { PODIUM_SIM_PORT: simPort, PODIUM_SIM_API_KEY: 'pod_dev_key' });
  env.PODIUM_URL = `http://127.0.0.1:${simPort}`;
  env.PODIUM_API_KEY = 'pod_dev_key';
}
run('gateway', 'dist/gateway/main.js', {});
