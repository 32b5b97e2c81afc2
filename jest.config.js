// Tests run as ESM (NestJS 12 is ESM-only): `node --experimental-vm-modules node_modules/jest/bin/jest.js`.
// Tiers by suffix: *.spec.ts (pure units), *.int-spec.ts (one service against real NATS and
// PostgreSQL), *.e2e-spec.ts (the built apps as separate processes).
const libs = ['contracts', 'config', 'nats', 'event-store', 'blob-store', 'worker-registry', 'rpc', 'job-state', 'job-commands', 'read-model', 'observability', 'runtime', 'tools', 'database', 'api-keys', 'webhooks', 'replay'];

export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/packages', '<rootDir>/test'],
  testRegex: '\\.(spec|int-spec|e2e-spec)\\.ts$',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.spec.json' }] },
  moduleNameMapper: {
    ...Object.fromEntries(libs.map((lib) => [`^@app/${lib}$`, `<rootDir>/libs/${lib}/src/index.ts`])),
    '^@framewire/client$': '<rootDir>/packages/client/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  // One nats-server (2.12+, sync_interval: always) for the whole run, unless TEST_NATS_URL names one.
  globalSetup: '<rootDir>/test/support/nats-global-setup.ts',
  globalTeardown: '<rootDir>/test/support/nats-global-teardown.ts',
  // The chaos run first and the bench smoke last, never side by side (see the file).
  testSequencer: '<rootDir>/test/support/test-sequencer.mjs',
  testTimeout: 60_000,
  slowTestThreshold: 20,
};
