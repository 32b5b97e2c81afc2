/**
 * Exponential backoff with a cap: the wait doubles after each failure, from `minMs` up to `maxMs`,
 * and starts again from `minMs` once things work (reset).
 */
export class Backoff {
  private current: number;

  constructor(
    readonly minMs: number,
    readonly maxMs: number,
  ) {
    this.current = minMs;
  }

  /** The wait before the next attempt; the one after it is twice as long, up to the cap. */
  next(): number {
    const delay = this.current;
    this.current = Math.min(this.current * 2, this.maxMs);
    return delay;
  }

  /** It worked: the next failure waits `minMs` again. */
  reset(): void {
    this.current = this.minMs;
  }

  /** Every following wait is the cap, until a reset. */
  holdAtMax(): void {
    this.current = this.maxMs;
  }
}

export interface RetryLoopOptions {
  /** Ends the loop: no round starts after it aborts, and a wait ends at once. */
  signal: AbortSignal;
  backoff: Backoff;
  /**
   * Told of each failed round (not of one that failed because the loop was stopping), with the
   * backoff's wait before the next. It logs; it may return another wait (a poll interval, say), and
   * may reset or hold the backoff.
   */
  onError(error: unknown, delayMs: number): number | void | Promise<number | void>;
  /** Asked before each round: whether to start it (default: yes, until `signal` aborts). */
  again?(): boolean;
  /** Waits `ms`, or less when `signal` aborts (tests pass their own). */
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
}

/**
 * Runs `round` again and again until `signal` aborts: the loop of every long-lived consumer. A round
 * that fails is reported and followed, after the backoff's wait, by a new one; a round calls
 * `healthy()` once it is up (its consumer open), so that the next failure waits the shortest time
 * again.
 */
export async function retryLoop(round: (healthy: () => void) => Promise<void>, options: RetryLoopOptions): Promise<void> {
  const { signal, backoff } = options;
  const sleep = options.sleep ?? abortableSleep;
  const healthy = () => backoff.reset();
  while (!signal.aborted && (options.again?.() ?? true)) {
    try {
      await round(healthy);
    } catch (error) {
      if (signal.aborted) return;
      const delay = backoff.next();
      const chosen = await options.onError(error, delay);
      await sleep(chosen ?? delay, signal);
    }
  }
}

/** Waits `ms`, or less if `signal` aborts (a stopping service does not wait out a retry delay). */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
