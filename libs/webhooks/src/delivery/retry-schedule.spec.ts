import { describe, expect, it } from '@jest/globals';
import { DEFAULT_RETRY_SCHEDULE, nextAttemptAt, retryDelayMs } from './retry-schedule.js';

const schedule = DEFAULT_RETRY_SCHEDULE;
const fixed = (value: number) => () => value;
// Math.random never returns 1; the largest factor it can give is just under it.
const highest = fixed(1 - Number.EPSILON);

describe('retryDelayMs', () => {
  it('doubles from the base after each failed attempt, up to the cap (the highest jitter)', () => {
    const delays = [1, 2, 3, 4, 5, 10, 11, 12, 50, 2000].map((attempts) => retryDelayMs(attempts, schedule, highest));
    expect(delays).toEqual([5_000, 10_000, 20_000, 40_000, 80_000, 2_560_000, 3_600_000, 3_600_000, 3_600_000, 3_600_000]);
  });

  it('waits between half and all of that: never nothing, never more than the cap', () => {
    expect(retryDelayMs(1, schedule, fixed(0))).toBe(2_500);
    expect(retryDelayMs(1, schedule, fixed(0.5))).toBe(3_750);
    expect(retryDelayMs(3, schedule, fixed(0))).toBe(10_000);
    expect(retryDelayMs(30, schedule, fixed(0))).toBe(1_800_000);
    for (let attempts = 1; attempts < 40; attempts += 1) {
      for (const random of [0, 0.25, 0.999_999]) {
        const delay = retryDelayMs(attempts, schedule, fixed(random));
        expect(delay).toBeGreaterThan(0);
        expect(delay).toBeLessThanOrEqual(schedule.maxMs);
      }
    }
  });

  it('reads fewer than one attempt as one', () => {
    expect(retryDelayMs(0, schedule, fixed(0))).toBe(2_500);
  });
});

describe('nextAttemptAt', () => {
  const firstAttemptAt = new Date('2026-12-05T10:00:00Z');
  const after = (ms: number) => new Date(firstAttemptAt.getTime() + ms);

  it('is now plus the backoff', () => {
    expect(nextAttemptAt({ attempts: 1, firstAttemptAt, now: firstAttemptAt, retryAfterMs: null }, schedule, fixed(0))).toEqual(after(2_500));
    expect(nextAttemptAt({ attempts: 3, firstAttemptAt, now: after(60_000), retryAfterMs: null }, schedule, fixed(0))).toEqual(after(70_000));
  });

  it("honours the receiver's Retry-After when it asks for longer, up to the cap", () => {
    const at = (retryAfterMs: number) => nextAttemptAt({ attempts: 1, firstAttemptAt, now: firstAttemptAt, retryAfterMs }, schedule, fixed(0));
    expect(at(1_000)).toEqual(after(2_500));
    expect(at(7_000)).toEqual(after(7_000));
    expect(at(86_400_000)).toEqual(after(3_600_000));
  });

  it('is null once the next attempt would fall after the window: the delivery failed for good', () => {
    const now = after(schedule.windowMs - 1_800_000);
    expect(nextAttemptAt({ attempts: 20, firstAttemptAt, now, retryAfterMs: null }, schedule, fixed(0))).toEqual(after(schedule.windowMs));
    expect(nextAttemptAt({ attempts: 20, firstAttemptAt, now, retryAfterMs: null }, schedule, fixed(0.5))).toBeNull();
    expect(nextAttemptAt({ attempts: 1, firstAttemptAt, now: after(schedule.windowMs - 1_000), retryAfterMs: null }, schedule, fixed(0))).toBeNull();
    expect(nextAttemptAt({ attempts: 1, firstAttemptAt, now: after(schedule.windowMs - 10_000), retryAfterMs: 60_000 }, schedule, fixed(0))).toBeNull();
  });
});
