/**
 * Builds the SDK (@diminuendo/client) into libs/client/dist: `--mode browser` (native WebSocket, no
 * `node:` import) and `--mode node` (`ws` as an external optional peer), each as ESM and CJS.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const sdk = (path: string) => fileURLToPath(new URL(`libs/client/${path}`, import.meta.url));

export default defineConfig(({ mode }) => ({
  logLevel: 'warn',
  build: {
    outDir: sdk(`dist/${mode === 'node' ? 'node' : 'browser'}`),
    emptyOutDir: true,
    sourcemap: true,
    minify: true,
    target: 'es2020',
    lib: {
      entry: sdk(mode === 'node' ? 'src/sdk/node.ts' : 'src/sdk/index.ts'),
      formats: ['es', 'cjs'],
      fileName: (format) => (format === 'es' ? 'index.mjs' : 'index.cjs'),
    },
    rollupOptions: { external: ['ws'] },
  },
}));
