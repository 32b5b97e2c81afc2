import TestSequencer from '@jest/test-sequencer';

const Base = TestSequencer.default ?? TestSequencer;

/**
 * Each of these starts a whole system of its own (NATS, PostgreSQL, the apps, several workers) and
 * keeps both cores busy for minutes. Run side by side on a 2-core machine they each took twice as long
 * (270 s apiece against 125 s for the chaos run alone) and ate into the chaos run's bounded waits. So
 * the chaos run goes first, beside the ordinary suites, and the bench smoke last, when the other
 * worker has only short suites left.
 */
const FIRST = ['/test/e2e/chaos.e2e-spec.ts'];
const LAST = ['/test/bench/bench-smoke.e2e-spec.ts'];

/** Jest's own order (failed first, then slowest first), with the heavy suites above kept apart. */
export default class HeavySuitesApart extends Base {
  async sort(tests) {
    const ordered = await super.sort(tests);
    const among = (paths) => (test) => paths.some((path) => test.path.endsWith(path));
    const first = ordered.filter(among(FIRST));
    const last = ordered.filter(among(LAST));
    const middle = ordered.filter((test) => !among(FIRST)(test) && !among(LAST)(test));
    return [...first, ...middle, ...last];
  }
}
