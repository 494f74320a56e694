/** The web console: a Vite + React single-page app served by the gateway at /console (dist/console). */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/console/',
  logLevel: 'warn',
  // React's automatic JSX runtime through Vite's own transform (no plugin).
  oxc: { jsx: { runtime: 'automatic' } },
  resolve: { alias: { '@diminuendo/client': here('../../libs/client/src/sdk/index.ts') } },
  build: { outDir: here('../../dist/console'), emptyOutDir: true, target: 'es2022', sourcemap: true },
});
