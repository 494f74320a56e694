'use strict';
/**
 * Runs the benchmark's TypeScript without a build step: .ts files are transpiled on require with
 * @swc/core (already a dev dependency), and the `@app/<lib>` path aliases of tsconfig.json resolve to
 * `libs/<lib>/src`. Used as `node -r ./bench/register.js bench/run.ts`.
 */
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const swc = require('@swc/core');

const ROOT = path.resolve(__dirname, '..');

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  const m = /^@app\/([^/]+)(\/.*)?$/.exec(request);
  if (m) request = path.join(ROOT, 'libs', m[1], 'src', m[2] ?? '');
  return resolveFilename.call(this, request, parent, ...rest);
};

require.extensions['.ts'] = function (module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const { code } = swc.transformSync(source, {
    filename,
    sourceMaps: 'inline',
    module: { type: 'commonjs' },
    jsc: {
      target: 'es2022',
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      keepClassNames: true,
    },
  });
  module._compile(code, filename);
};
