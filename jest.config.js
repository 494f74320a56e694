/** Two projects: fast unit/integration tests next to the code, and e2e suites that start real processes. */
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  },
];
const moduleNameMapper = {
  '^@app/(auth|billing|client|common|persistence|podium|protocol)(|/.*)$': '<rootDir>/libs/$1/src$2',
};
/**
 * Coverage of the libraries (libs/**) and of the live-session module (apps/gateway/src/live), collected for `npm test` (the full suite) and for an explicit
 * `--coverage`. Only code that runs in the Jest process counts: the e2e suites drive spawned gateway
 * processes, whose code is not measured, so the thresholds reflect the unit and medium-tier specs.
 */
const coverage = {
  collectCoverage: process.env.npm_lifecycle_event === 'test',
  // Istanbul instrumentation (the default provider): about +40 % on the unit specs, where v8 was +350 %.
  coverageProvider: 'babel',
  collectCoverageFrom: [
    '<rootDir>/libs/**/src/**/*.ts',
    '<rootDir>/apps/gateway/src/live/**/*.ts',
    '!**/*.spec.ts',
    '!**/index.ts',
  ],
  coverageDirectory: '<rootDir>/coverage',
  coverageReporters: ['text-summary', 'json-summary', 'lcov'],
  coverageThreshold: {
    './libs/': { statements: 75, branches: 65, functions: 70, lines: 75 },
    // Measured at 68 / 49 / 57 / 72 by the in-process specs (live-cycle, publisher, finisher, quota).
    './apps/gateway/src/live/': { statements: 60, branches: 40, functions: 50, lines: 65 },
  },
};
module.exports = {
  // A spec that leaves a socket or timer open must not keep the run (and CI) waiting after the summary.
  forceExit: true,
  testTimeout: 60000,
  ...coverage,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  projects: [
    {
      displayName: 'unit',
      rootDir: __dirname,
      testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts'],
      transform: { '^.+\\.ts$': swc },
      moduleNameMapper,
      testEnvironment: 'node',
    },
    {
      displayName: 'e2e',
      rootDir: __dirname,
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      transform: { '^.+\\.ts$': swc },
      moduleNameMapper,
      testEnvironment: 'node',
    },
  ],
};
