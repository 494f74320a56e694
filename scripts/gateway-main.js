'use strict';
/**
 * The gateway's entry point: `node dist/gateway/main.js` (npm start, the image, the tests and the
 * benchmarks all run this file). It runs the bundled server (gateway.js, written by
 * scripts/bundle-gateway.js) with V8's code cache (gateway.cache), so a start does not parse and compile
 * the server's modules again. A missing or rejected cache (another Node version, other V8 flags) only
 * makes the start slower. `--write-code-cache` (used by the build) writes the cache when the process exits.
 * Under `node --enable-source-maps` the bundle is required as a plain module instead, so that Node maps
 * stack traces through gateway.js.map to the TypeScript sources (Node 20 does not for vm scripts).
 */
const { readFileSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');

const bundle = join(__dirname, 'gateway.js');
const cacheFile = join(__dirname, 'gateway.cache');
const writeCache = process.argv.includes('--write-code-cache');

function readCache() {
  if (writeCache) return undefined;
  try {
    return readFileSync(cacheFile);
  } catch {
    return undefined;
  }
}

function runWithCodeCache() {
  // The bundle is ASCII (the build checks it), so latin1 reads it exactly and faster than utf8.
  const script = new Script(Module.wrap(readFileSync(bundle, 'latin1')), {
    filename: bundle,
    cachedData: readCache(),
  });
  if (writeCache) process.once('exit', () => writeFileSync(cacheFile, script.createCachedData()));
  const server = new Module(bundle, module);
  server.filename = bundle;
  server.paths = Module._nodeModulePaths(__dirname);
  script.runInThisContext()(server.exports, Module.createRequire(bundle), server, bundle, __dirname);
}

if (process.sourceMapsEnabled) require(bundle);
else runWithCodeCache();
