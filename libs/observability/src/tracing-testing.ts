import { context, propagation, trace } from '@opentelemetry/api';
import { node, tracing } from '@opentelemetry/sdk-node';
import { setTracingActive } from './tracing.js';

/** The spans a test recorded, finished ones only, in the order they ended. */
export type RecordedSpan = tracing.ReadableSpan;

export interface TestTracing {
  /** Every span that has ended so far. */
  spans(): RecordedSpan[];
  /** Forgets the spans recorded so far. */
  reset(): void;
  /** Unregisters the provider and turns tracing off again for this process. */
  stop(): Promise<void>;
}

/**
 * Tracing on in a test process, with the spans kept in memory instead of exported: the same global
 * registrations startTracing makes (a tracer provider, AsyncLocalStorage context, the W3C propagator),
 * so tracingActive() is true and every span of the code under test is recorded. One per process at a
 * time (the registrations are global); `stop()` undoes them.
 */
export function startTracingForTests(): TestTracing {
  const exporter = new tracing.InMemorySpanExporter();
  const provider = new node.NodeTracerProvider({ spanProcessors: [new tracing.SimpleSpanProcessor(exporter)] });
  provider.register();
  setTracingActive(true);
  return {
    spans: () => exporter.getFinishedSpans(),
    reset: () => exporter.reset(),
    async stop() {
      setTracingActive(false);
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
