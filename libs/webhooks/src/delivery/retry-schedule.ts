/** When failed deliveries are tried again: exponential backoff, capped, within a window. */
export interface RetrySchedule {
  /** The delay after the first failed attempt (before jitter). */
  baseMs: number;
  /** No delay is longer, the receiver's Retry-After included. */
  maxMs: number;
  /** Counted from the first attempt: no attempt is made after it, and the delivery fails for good. */
  windowMs: number;
}

/** 5 s, 10 s, 20 s ... up to an hour between attempts, for a day. */
export const DEFAULT_RETRY_SCHEDULE: RetrySchedule = { baseMs: 5_000, maxMs: 3_600_000, windowMs: 86_400_000 };

/**
 * The wait after `attempts` failed attempts (1 after the first): `baseMs * 2^(attempts-1)`, capped at
 * `maxMs`, then scaled by a random factor in [0.5, 1], so that deliveries failed together (a receiver
 * down for everyone) do not all come back in the same second.
 */
export function retryDelayMs(attempts: number, schedule: RetrySchedule, random: () => number = Math.random): number {
  const exponent = Math.max(attempts, 1) - 1;
  const capped = Math.min(schedule.baseMs * 2 ** exponent, schedule.maxMs);
  return Math.min(Math.round(capped * (0.5 + 0.5 * random())), schedule.maxMs);
}

/**
 * When to try again after `attempts` failed attempts, or null when that would fall after the window
 * (the delivery then failed for good). A receiver's Retry-After is honoured when it asks for longer
 * than the backoff would wait, though never longer than `maxMs`.
 */
export function nextAttemptAt(
  input: { attempts: number; firstAttemptAt: Date; now: Date; retryAfterMs: number | null },
  schedule: RetrySchedule,
  random?: () => number,
): Date | null {
  let delay = retryDelayMs(input.attempts, schedule, random);
  if (input.retryAfterMs !== null && input.retryAfterMs > delay) delay = Math.min(input.retryAfterMs, schedule.maxMs);
  const at = input.now.getTime() + delay;
  return at > input.firstAttemptAt.getTime() + schedule.windowMs ? null : new Date(at);
}
