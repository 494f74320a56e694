/**
 * Measures the SDK's browser build as an application bundles it: the ESM build minified (terser) and
 * gzipped (level 9). Writes libs/client/dist/size.json and fails the build above the budget (12 KiB).
 */
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { gzipSync } = require('node:zlib');
const { minify } = require('terser');

const BUDGET = 12 * 1024;
const dist = join(__dirname, '..', 'libs', 'client', 'dist');

void (async () => {
  const source = readFileSync(join(dist, 'browser', 'index.mjs'), 'utf8');
  const { code } = await minify(source, { module: true, compress: true, mangle: true });
  const minified = Buffer.byteLength(code);
  const gzip = gzipSync(code, { level: 9 }).length;
  writeFileSync(join(dist, 'size.json'), `${JSON.stringify({ minified, gzip, budget: BUDGET }, null, 2)}\n`);
  process.stdout.write(
    `SDK browser build: ${minified} B minified, ${gzip} B min+gzip (budget ${BUDGET} B)\n`,
  );
  if (gzip > BUDGET) {
    process.stderr.write('SDK browser build is over its size budget\n');
    process.exit(1);
  }
})();
