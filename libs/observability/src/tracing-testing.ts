import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { setTracingActive } from './tracing.js';

/** Spans recorded in this process, for tests. */
export interface RecordedSpans {
  /** Every span ended so far. */
  ended(): ReadableSpan[];
  /** Forgets the spans ended so far. */
  reset(): void;
  /** Tracing off again, as at the start (the global provider, context manager and propagator removed). */
  stop(): Promise<void>;
}

/**
 * Turns tracing on in a test's own process, with the same context manager and propagator as
 * startTracing but spans kept in memory rather than exported: for integration tests of one service
 * whose spans must be looked at. The e2e tests run the apps as processes with a real OTLP exporter.
 */
export function recordSpansForTests(): RecordedSpans {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  setTracingActive(true);
  return {
    ended: () => exporter.getFinishedSpans(),
    reset: () => exporter.reset(),
    stop: async () => {
      setTracingActive(false);
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}
