/**
 * Architecture boundaries, checked by `npm run lint` (part of `npm test`):
 * apps depend on libs and never on each other; libs never depend on apps; libs/contracts depends on
 * no other project code; libs/job-state (evolve, decide) on contracts only; nothing is circular.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-app-to-other-app',
      severity: 'error',
      comment: 'Apps talk over NATS only. Shared code belongs in libs/.',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/([^/]+)/', pathNot: '^apps/$1/' },
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
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.tsx', '.js', '.json'] },
  },
};
