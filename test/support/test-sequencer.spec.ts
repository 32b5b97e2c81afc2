import { describe, expect, it } from '@jest/globals';
import HeavySuitesApart from './test-sequencer.mjs';

/** Suites as Jest hands them to a sequencer, with no timing cache: Jest orders them by size. */
function suites(sizes: Record<string, number>): Array<{ path: string }> {
  const context = { config: { cache: false, rootDir: '/repo' }, hasteFS: { getSize: (path: string) => sizes[path] ?? 0 } };
  return Object.keys(sizes).map((path) => ({ path, context }));
}

describe('the order the suites run in', () => {
  it('puts the chaos run first and the bench smoke last, the rest in the order Jest chose', async () => {
    const tests = suites({
      '/repo/test/bench/bench-smoke.e2e-spec.ts': 9000,
      '/repo/libs/a.spec.ts': 100,
      '/repo/test/e2e/big.e2e-spec.ts': 8000,
      '/repo/test/e2e/chaos.e2e-spec.ts': 50,
      '/repo/libs/b.int-spec.ts': 300,
    });
    const order = (await new HeavySuitesApart({}).sort(tests)).map((test) => test.path.replace('/repo/', ''));
    expect(order).toEqual(['test/e2e/chaos.e2e-spec.ts', 'test/e2e/big.e2e-spec.ts', 'libs/b.int-spec.ts', 'libs/a.spec.ts', 'test/bench/bench-smoke.e2e-spec.ts']);
  });

  it('leaves a run without them as Jest ordered it', async () => {
    const tests = suites({ '/repo/libs/a.spec.ts': 100, '/repo/libs/b.spec.ts': 200 });
    expect((await new HeavySuitesApart({}).sort(tests)).map((test) => test.path)).toEqual(['/repo/libs/b.spec.ts', '/repo/libs/a.spec.ts']);
  });
});
