import { describe, expect, it } from '@jest/globals';
import { Backoff, retryLoop } from './retry-loop.js';

/** A loop whose waits are recorded instead of slept; `failures` rounds fail before one that ends. */
async function run(options: {
  failures: number;
  healthyAfter?: number[];
  abortAfterRound?: number;
  onError?: (error: unknown, delay: number) => number | void;
  again?: () => boolean;
}) {
  const controller = new AbortController();
  const waits: number[] = [];
  const errors: string[] = [];
  let rounds = 0;
  let lastFailed = false;
  await retryLoop(
    async (healthy) => {
      rounds += 1;
      lastFailed = rounds <= options.failures;
      if (options.healthyAfter?.includes(rounds)) healthy();
      if (rounds === options.abortAfterRound) controller.abort();
      if (rounds <= options.failures) throw new Error(`round ${rounds}`);
    },
    {
      signal: controller.signal,
      backoff: new Backoff(250, 2000),
      onError: (error, delay) => {
        errors.push((error as Error).message);
        return options.onError?.(error, delay);
      },
      again: options.again ?? (() => rounds === 0 || lastFailed),
      sleep: async (ms) => {
        waits.push(ms);
      },
    },
  );
  return { waits, errors, rounds };
}

describe('retryLoop', () => {
  it('doubles the wait after each failure, up to the cap', async () => {
    const { waits, errors, rounds } = await run({ failures: 6 });
    expect(waits).toEqual([250, 500, 1000, 2000, 2000, 2000]);
    expect(errors).toEqual(['round 1', 'round 2', 'round 3', 'round 4', 'round 5', 'round 6']);
    expect(rounds).toBe(7);
  });

  it('waits the shortest time again after a round that said it was healthy', async () => {
    const { waits } = await run({ failures: 5, healthyAfter: [3] });
    expect(waits).toEqual([250, 500, 250, 500, 1000]);
  });

  it('waits what the error handler chooses instead, when it chooses', async () => {
    const { waits } = await run({ failures: 3, onError: (error) => ((error as Error).message === 'round 2' ? 7000 : undefined) });
    expect(waits).toEqual([250, 7000, 1000]);
  });

  it('stops on abort: a failure while stopping is neither reported nor waited for, and no round follows', async () => {
    const { waits, errors, rounds } = await run({ failures: 10, abortAfterRound: 3 });
    expect({ waits, errors, rounds }).toEqual({ waits: [250, 500], errors: ['round 1', 'round 2'], rounds: 3 });
  });

  it('asks `again` before each round: rounds that end start another without a wait, until it says no', async () => {
    let asked = 0;
    const { waits, rounds } = await run({ failures: 0, again: () => ++asked <= 3 });
    expect({ waits, rounds, asked }).toEqual({ waits: [], rounds: 3, asked: 4 });
  });

  it('asks `again` after a failure too: no round starts when it says no', async () => {
    let asked = 0;
    const { waits, rounds } = await run({ failures: 5, again: () => ++asked <= 2 });
    expect({ waits, rounds }).toEqual({ waits: [250, 500], rounds: 2 });
  });

  it('does not start at all when the signal has already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    let rounds = 0;
    await retryLoop(async () => void rounds++, { signal: controller.signal, backoff: new Backoff(1, 2), onError: () => undefined });
    expect(rounds).toBe(0);
  });
});

describe('Backoff', () => {
  it('holds at its cap until a reset', () => {
    const backoff = new Backoff(100, 800);
    backoff.holdAtMax();
    expect([backoff.next(), backoff.next()]).toEqual([800, 800]);
    backoff.reset();
    expect([backoff.next(), backoff.next()]).toEqual([100, 200]);
  });
});
