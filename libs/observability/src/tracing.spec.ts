import { describe, expect, it } from '@jest/globals';
import { spanContextOf, traceIdOf, traceparentOf, tracingRequested } from './tracing.js';

describe('tracing is asked for by the standard OTEL_* variables', () => {
  it('is off by default, and on for an OTLP endpoint or a traces exporter', () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' })).toBe(true);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'console' })).toBe(true);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'otlp,console' })).toBe(true);
  });

  it('stays off for an empty endpoint (compose passes one through unset), `none`, or a disabled SDK', () => {
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: '' })).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' })).toBe(false);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(false);
    expect(tracingRequested({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(false);
    expect(tracingRequested({ OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
  });
});

describe('W3C traceparent values', () => {
  const value = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

  it('name a remote span context, and are written back the same', () => {
    const span = spanContextOf(value);
    expect(span).toEqual({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: true });
    expect(traceparentOf(span!)).toBe(value);
    expect(traceIdOf(value)).toBe('0af7651916cd43dd8448eb211c80319c');
  });

  it('are refused when malformed or all zeros', () => {
    for (const bad of [undefined, '', 'x', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331', '00-00000000000000000000000000000000-b7ad6b7169203331-01', '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01', '00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01']) {
      expect(spanContextOf(bad)).toBeNull();
    }
  });
});
