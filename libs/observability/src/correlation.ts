import { AsyncLocalStorage } from 'node:async_hooks';

/** What every log line written while handling one request or one job carries. */
export interface CorrelationContext {
  correlationId: string;
  jobId?: string;
}

const storage = new AsyncLocalStorage<CorrelationContext>();

/** Runs `fn` with `context` attached: every log line written inside it, however deep, carries it. */
export function runWithCorrelation<T>(context: CorrelationContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The correlation context of the code that is running now, if any. */
export function currentCorrelation(): CorrelationContext | undefined {
  return storage.getStore();
}
