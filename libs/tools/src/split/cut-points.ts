import type { SplitPart } from './split-support.js';

/**
 * Where to cut a video of `durationSec` seconds into parts of about `splitSeconds` each, given the
 * presentation times of its video key frames (`keyframes`, sorted, in seconds of the source's
 * timeline, as ffprobe reads them from the packets). Every part but the first starts on a key frame,
 * so a part can be decoded on its own from its first frame; the first part starts at the first
 * frame's time (`keyframes[0]`) and the last one has no end.
 *
 * Each cut is the key frame nearest to a multiple of `splitSeconds` from the start. A key frame
 * nearest to two multiples (key frames further apart than `splitSeconds`) is used once, and the
 * first frame's never, so the cuts strictly increase and no part is empty. When more than
 * `maxParts` parts would result, the step widens to `durationSec / maxParts`. A video no longer than
 * one step, or without a key frame after its first, stays one part.
 */
export function findCutPoints(keyframes: readonly number[], durationSec: number, splitSeconds: number, maxParts = 500): SplitPart[] {
  const times = keyframes.filter((t) => Number.isFinite(t)).sort((a, b) => a - b);
  const first = times[0] ?? 0;
  const whole: SplitPart[] = [{ index: 0, start: first, end: null }];
  if (times.length < 2 || !(durationSec > 0) || !(splitSeconds > 0) || durationSec <= splitSeconds) return whole;
  const limit = Math.max(1, Math.floor(maxParts));
  const step = Math.max(splitSeconds, durationSec / limit);
  const cuts: number[] = [];
  for (let k = 1; k * step < durationSec && cuts.length < limit - 1; k++) {
    const cut = nearest(times, first + k * step);
    if (cut > (cuts.at(-1) ?? first)) cuts.push(cut);
  }
  const starts = [first, ...cuts];
  return starts.map((start, index) => ({ index, start, end: starts[index + 1] ?? null }));
}

/** The element of sorted `times` nearest to `target`; the earlier one of two as near. */
function nearest(times: readonly number[], target: number): number {
  let lo = 0;
  let hi = times.length - 1;
  // The first index whose time is at or after the target (or the last one).
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  const after = times[lo]!;
  const before = lo > 0 ? times[lo - 1]! : after;
  return target - before <= after - target ? before : after;
}
