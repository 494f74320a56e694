/**
 * Bundles the compiled gateway (the JavaScript `nest build gateway` emitted, decorator metadata included)
 * into dist/gateway/gateway.js with esbuild, writes the entry point dist/gateway/main.js
 * (scripts/gateway-main.js), then starts the bundle once to write V8's code cache (gateway.cache) and
 * to prove it starts. Loading one file instead of ~2,000 modules, without compiling them again, is most
 * of the gateway's start-up time (docs/benchmarks.md, P9).
 *
 * Left outside the bundle, loaded from node_modules when needed: native addons (sqlite3), code that runs
 * in worker threads or finds its files by path (pino's transport worker, swagger-ui-dist), the tracing
 * SDK (loaded only when tracing is on) and optional packages that are not installed.
 */
const { spawn } = require('node:child_process');
const { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');
const esbuild = require('esbuild');

const root = resolve(__dirname, '..');
const out = join(root, 'dist', 'gateway');
const bundle = join(out, 'gateway.js');

const EXTERNAL = [
  'sqlite3',
  'thread-stream',
  'swagger-ui-dist',
  '@opentelemetry/sdk-trace-node',
  '@opentelemetry/exporter-trace-otlp-http',
  '@opentelemetry/resources',
];

/** Packages required inside try/catch or behind a feature check (Nest's optional platforms, drivers). */
const optionalPackages = {
  name: 'optional-packages',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:') || args.kind === 'entry-point') return undefined;
      try {
        require.resolve(args.path, { paths: [args.resolveDir] });
        return undefined;
      } catch {
        return { path: args.path, external: true };
      }
    });
  },
};

/**
 * The non-ASCII characters esbuild leaves (in regular expressions and comments; it escapes strings and
 * templates itself) as \u escapes, which mean the same there: an ASCII file reads several times faster.
 */
function asciiOnly(file) {
  const source = readFileSync(file, 'utf8');
  // eslint-disable-next-line no-control-regex -- the range is every ASCII character, controls included
  const ascii = source.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  writeFileSync(file, ascii);
}

/** Starts the bundled gateway (dev mode, loopback, empty data dir), stops it, and keeps its code cache. */
function writeCodeCache() {
  const dataDir = mkdtempSync(join(tmpdir(), 'dim-bundle-'));
  const proc = spawn(process.execPath, [join(out, 'main.js'), '--write-code-cache'], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      DATA_DIR: dataDir,
      PODIUM_URL: 'http://127.0.0.1:9',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stopping = false;
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    const onData = (chunk) => {
      output += chunk.toString();
      if (!stopping && /Gateway listening on /.test(output)) {
        stopping = true;
        proc.kill('SIGTERM');
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      rmSync(dataDir, { recursive: true, force: true });
      if (code === 0 && /Gateway listening on /.test(output)) resolvePromise();
      else reject(new Error(`the bundled gateway did not start and stop cleanly (exit ${code}):\n${output}`));
    });
  });
}

void (async () => {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await esbuild.build({
    entryPoints: [join(root, 'dist/apps/gateway/apps/gateway/src/main.js')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // Nest resolves providers by class and logs class names: keep every name as written.
    keepNames: true,
    sourcemap: 'linked',
    external: EXTERNAL,
    plugins: [optionalPackages],
    logLevel: 'warning',
  });
  asciiOnly(bundle);
  copyFileSync(join(__dirname, 'gateway-main.js'), join(out, 'main.js'));
  await writeCodeCache();
  process.stdout.write(`gateway bundle: ${bundle} with its code cache\n`);
})().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
