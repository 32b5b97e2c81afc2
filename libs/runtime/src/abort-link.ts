/** A signal that aborts when any of its parents does, or when its time is up, until disposed. */
export interface AbortLink {
  readonly signal: AbortSignal;
  /** True when the signal aborted because its time was up (not because a parent aborted). */
  readonly timedOut: boolean;
  /** Detaches it from its parents and stops its timer; the signal stays as it is. */
  dispose(): void;
}

/**
 * `AbortSignal.any([...parents, AbortSignal.timeout(ms)])` for a scope that ends: the link holds one
 * listener per parent and one timer, and dispose() removes them when the scope is over. The built-ins
 * track their sources through weak references and a finalization registry, and cost ~3% of a no-op
 * job's CPU in the worker (created per attempt and per tool); this costs a few closures.
 * A timeout aborts with a `TimeoutError` DOMException, as AbortSignal.timeout does.
 */
export function abortLink(parents: readonly AbortSignal[], timeoutMs?: number): AbortLink {
  const controller = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const listeners: Array<[AbortSignal, () => void]> = [];
  const dispose = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    for (const [parent, listener] of listeners.splice(0)) parent.removeEventListener('abort', listener);
  };
  const aborted = parents.find((parent) => parent.aborted);
  if (aborted) {
    controller.abort(aborted.reason);
  } else {
    for (const parent of parents) {
      const listener = () => {
        dispose();
        controller.abort(parent.reason);
      };
      parent.addEventListener('abort', listener, { once: true });
      listeners.push([parent, listener]);
    }
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        dispose();
        controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError'));
      }, timeoutMs);
      timer.unref();
    }
  }
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    dispose,
  };
}
