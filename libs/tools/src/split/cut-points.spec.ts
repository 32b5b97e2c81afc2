import { describe, expect, it } from '@jest/globals';
import { findCutPoints } from './cut-points.js';

/** Key frames every `interval` seconds from `start` up to (not including) `start + duration`. */
function every(interval: number, duration: number, start = 0): number[] {
  return Array.from({ length: Math.ceil(duration / interval - 1e-9) }, (_, i) => start + i * interval);
}

const starts = (parts: ReturnType<typeof findCutPoints>) => parts.map((p) => p.start);

describe('findCutPoints', () => {
  it('cuts at the key frame on each multiple of the split length, each part ending where the next starts and the last open', () => {
    expect(findCutPoints(every(1, 10), 10, 2)).toEqual([
      { index: 0, start: 0, end: 2 },
      { index: 1, start: 2, end: 4 },
      { index: 2, start: 4, end: 6 },
      { index: 3, start: 6, end: 8 },
      { index: 4, start: 8, end: null },
    ]);
  });

  it('takes the key frame nearest to each multiple, before or after it', () => {
    // Key frames at 0, 1.9, 4.3, 5.8, 8.2: nearest to 2, 4, 6, 8 are 1.9, 4.3, 5.8, 8.2.
    expect(starts(findCutPoints([0, 1.9, 4.3, 5.8, 8.2], 9, 2))).toEqual([0, 1.9, 4.3, 5.8, 8.2]);
  });

  it('uses a key frame once when key frames are further apart than the split length, and never the first frame\'s', () => {
    // Key frames every 5 s, split every 2 s: 2 is nearest to 0 (the first frame: no cut), 4 and 6 to 5, 8 and 10 to 10.
    const parts = findCutPoints([0, 5, 10], 12, 2);
    expect(parts).toEqual([
      { index: 0, start: 0, end: 5 },
      { index: 1, start: 5, end: 10 },
      { index: 2, start: 10, end: null },
    ]);
  });

  it('may leave a last part shorter than a key-frame interval', () => {
    // Key frames every 2 s, 8.5 s long: the last part is the half second from 8.
    expect(findCutPoints(every(2, 8.5), 8.5, 2).at(-1)).toEqual({ index: 4, start: 8, end: null });
  });

  it('counts from the first frame\'s time when the video does not start at zero', () => {
    const parts = findCutPoints(every(1, 10, 1.4), 10, 3);
    expect(parts.map((p) => [p.start, p.end])).toEqual([[1.4, 4.4], [4.4, 7.4], [7.4, 10.4], [10.4, null]]);
  });

  it('keeps a video no longer than the split length, or without a second key frame, in one part from its first frame', () => {
    expect(findCutPoints(every(1, 4), 4, 4)).toEqual([{ index: 0, start: 0, end: null }]);
    expect(findCutPoints(every(1, 3, 0.5), 3, 10)).toEqual([{ index: 0, start: 0.5, end: null }]);
    expect(findCutPoints([0.08], 60, 2)).toEqual([{ index: 0, start: 0.08, end: null }]);
    expect(findCutPoints([], 60, 2)).toEqual([{ index: 0, start: 0, end: null }]);
    expect(findCutPoints(every(1, 10), 0, 2)).toEqual([{ index: 0, start: 0, end: null }]);
  });

  it('widens the step so that no more than maxParts parts result', () => {
    const parts = findCutPoints(every(1, 3600), 3600, 2, 10);
    expect(parts).toHaveLength(10);
    expect(starts(parts)).toEqual([0, 360, 720, 1080, 1440, 1800, 2160, 2520, 2880, 3240]);
    // A step that does not divide the duration in whole seconds: still at most maxParts.
    expect(findCutPoints(every(0.04, 100), 100, 2, 7).length).toBeLessThanOrEqual(7);
    expect(findCutPoints(every(1, 3600), 3600, 2, 1)).toEqual([{ index: 0, start: 0, end: null }]);
  });

  it('gives strictly increasing parts whose ends are the next starts, for any spacing of key frames', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let run = 0; run < 50; run++) {
      const keyframes: number[] = [random() * 2];
      while (keyframes.at(-1)! < 60) keyframes.push(keyframes.at(-1)! + 0.04 + random() * 6);
      const duration = keyframes.at(-1)! - keyframes[0]! + random();
      const parts = findCutPoints(keyframes, duration, 1 + random() * 5, 12);
      expect(parts[0]!.start).toBe(keyframes[0]);
      expect(parts.at(-1)!.end).toBeNull();
      expect(parts.length).toBeLessThanOrEqual(12);
      parts.forEach((part, i) => {
        expect(part.index).toBe(i);
        expect(keyframes).toContain(part.start);
        if (i > 0) expect(part.start).toBeGreaterThan(parts[i - 1]!.start);
        if (part.end !== null) expect(part.end).toBe(parts[i + 1]!.start);
      });
    }
  });
});
