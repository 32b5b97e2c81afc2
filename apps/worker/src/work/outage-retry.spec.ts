import { describe, expect, it } from '@jest/globals';
import { outageRetryDelayMs } from './work.consumer.js';

describe('outageRetryDelayMs: how long a delivery that met an outage waits before it comes back', () => {
  it('starts at one second and doubles with each delivery', () => {
    expect([1, 2, 3, 4, 5].map(outageRetryDelayMs)).toEqual([1000, 2000, 4000, 8000, 16_000]);
  });

  it('never waits more than 30 s, however many deliveries', () => {
    expect(outageRetryDelayMs(6)).toBe(30_000);
    expect(outageRetryDelayMs(1000)).toBe(30_000);
  });

  it('lets the default ten deliveries ride out more than two minutes of outage (a cluster electing a leader took over 10 s)', () => {
    const waited = Array.from({ length: 9 }, (_, i) => outageRetryDelayMs(i + 1)).reduce((a, b) => a + b, 0);
    expect(waited).toBeGreaterThan(120_000);
  });
});
