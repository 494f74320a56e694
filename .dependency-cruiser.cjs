/**
 * Import rules of the gateway, checked by `npm run depcheck` (part of `npm test`):
 * - no import cycle between modules (files);
 * - no import cycle between feature folders (apps/gateway/src/<folder>, libs/<lib>): checked on the
 *   folder-level graph by scripts/depcheck.js, which runs this configuration with `--collapse`.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'An import cycle between two modules that exists at run time (a cycle closed only by type ' +
        'imports, like the SDK client and its session handles naming each other, is allowed here; ' +
        'between folders, type imports count).',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'no-libs-to-apps',
      severity: 'error',
      comment: 'A lib never depends on an application.',
      from: { path: '^libs/' },
      to: { path: '^apps/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/|(^|/)dist/|\\.spec\\.ts$|\\.e2e-spec\\.ts$' },
    tsConfig: { fileName: 'tsconfig.json' },
    // Type-only imports count: a folder that names another's types depends on it.
    tsPreCompilationDeps: true,
    moduleSystems: ['es6', 'cjs'],
  },
};
