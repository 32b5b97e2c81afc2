/**
 * Architecture boundaries, checked by `npm run lint` (part of `npm test`):
 * apps depend on libs and never on each other; libs never depend on apps; each lib depends only on
 * the libs below it (LIB_LAYERS); code outside a lib uses only what its index.ts exports; nothing is
 * circular.
 */

/**
 * The libs, and the project libs each one may import. Read bottom-up, the layers are:
 * 1. foundations, no project code: contracts (the shared language), runtime, observability, database;
 * 2. over the contracts: config, job-state (the pure fold), tools; nats (the connection, permissions)
 *    and rpc (request/reply); api-keys and webhooks (over database: the key store, webhook endpoints
 *    and their deliveries, with the signing and the outbound HTTP of a delivery);
 * 3. over nats: event-store (the log, its consumers and the work queue), blob-store, worker-registry;
 *    job-commands (the loop that reads a job's history, decides with job-state and appends to the log);
 * 4. read-model (the log projected into PostgreSQL);
 * 5. replay (rebuilds and as-of reads, over the log and the read model).
 * A new lib gets its line here; a new import between libs that is not listed fails the lint, on
 * purpose: decide first whether the layering should change.
 */
const LIB_LAYERS = {
  contracts: [],
  runtime: [],
  observability: [],
  database: [],
  config: ['contracts'],
  'job-state': ['contracts'],
  tools: ['contracts'],
  nats: ['contracts', 'observability'],
  rpc: ['contracts', 'observability'],
  'api-keys': ['contracts', 'database'],
  webhooks: ['contracts', 'database', 'observability'],
  'event-store': ['contracts', 'nats', 'observability', 'runtime'],
  'blob-store': ['contracts', 'nats', 'observability'],
  'worker-registry': ['contracts', 'nats'],
  'job-commands': ['contracts', 'event-store', 'job-state', 'runtime'],
  'read-model': ['contracts', 'database', 'event-store', 'job-state', 'observability'],
  replay: ['contracts', 'event-store', 'job-state', 'nats', 'read-model', 'runtime'],
};

const libLayerRules = Object.entries(LIB_LAYERS).map(([lib, allowed]) => ({
  name: `lib-layers-${lib}`,
  severity: 'error',
  comment: allowed.length > 0 ? `libs/${lib} may import only libs/{${allowed.join(',')}} (see LIB_LAYERS).` : `libs/${lib} imports no other lib (see LIB_LAYERS).`,
  from: { path: `^libs/${lib}/` },
  to: { path: `^libs/(?!(${[lib, ...allowed].join('|')})/)` },
}));

module.exports = {
  forbidden: [
    ...libLayerRules,
    {
      name: 'lib-is-layered',
      severity: 'error',
      comment: 'Every lib has its place in LIB_LAYERS.',
      from: { path: `^libs/(?!(${Object.keys(LIB_LAYERS).join('|')})/)` },
      to: { path: '^libs/' },
    },
    {
      name: 'lib-through-its-index',
      severity: 'error',
      comment: "Outside a lib, only what its index.ts exports is used (import '@app/<lib>'), so that its interface stays narrow.",
      from: { path: '^(libs/[^/]+/|apps/|test/|bench/)' },
      to: { path: '^libs/[^/]+/src/', pathNot: ['^libs/[^/]+/src/index\\.ts$', '^$1'] },
    },
    {
      name: 'no-app-to-other-app',
      severity: 'error',
      comment: 'Apps talk over NATS only. Shared code belongs in libs/.',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/([^/]+)/', pathNot: '^apps/$1/' },
    },
    {
      name: 'packages-stand-alone',
      severity: 'error',
      comment: 'A package (packages/*) is published on its own: it depends on npm packages and its generated files, never on the apps or libs.',
      from: { path: '^packages/' },
      to: { path: '^(apps|libs|test|bench)/' },
    },
    {
      name: 'no-lib-to-app',
      severity: 'error',
      from: { path: '^libs/' },
      to: { path: '^apps/' },
    },
    {
      name: 'contracts-depend-on-nothing',
      severity: 'error',
      comment: 'Contracts are the shared language; they may use npm packages (zod) but no project code.',
      from: { path: '^libs/contracts/' },
      to: { path: '^(libs/(?!contracts/)|apps/)' },
    },
    {
      name: 'job-state-depends-on-contracts-only',
      severity: 'error',
      comment: 'evolve and decide are pure: they read events and commands, never the bus, the database or a clock. Specs may use the test builders.',
      from: { path: '^libs/job-state/', pathNot: '\\.spec\\.ts$' },
      to: { path: '^(libs/(?!contracts/|job-state/)|apps/|test/)' },
    },
    {
      name: 'dashboard-uses-contract-types-only',
      severity: 'error',
      comment: 'The dashboard is a browser bundle: it shares the contracts\' types, never server code.',
      from: { path: '^apps/dashboard/' },
      to: { path: '^libs/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.tsx', '.d.ts', '.js', '.json'] },
  },
};
