import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { setTracingActive } from './tracing.js';

/**
 * Tracing in a test process, as startTracing sets it up in an app (spans current across awaits, W3C
 * trace context in and out), with every span handed to `processor` (a SimpleSpanProcessor over an
 * InMemorySpanExporter, say) rather than to an OTLP exporter. `stop` ends it: tracing is off again.
 */
export function startTracingForTests(processor: SpanProcessor): { stop(): Promise<void> } {
  const provider = new BasicTracerProvider({ spanProcessors: [processor] });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  setTracingActive(true);
  return {
    stop: async () => {
      setTracingActive(false);
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
