import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resources, tracing } from '@opentelemetry/sdk-node';
import { decodeTraceRequest, OtlpReceiver } from './otlp-receiver.js';

/**
 * The test receiver's decoder against OpenTelemetry's own encoders: spans made by the SDK, serialized
 * by otlp-transformer as the exporters send them (protobuf and JSON), decode to the same plain spans.
 */
function sdkSpans(): tracing.ReadableSpan[] {
  const exporter = new tracing.InMemorySpanExporter();
  const provider = new tracing.BasicTracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': 'framewire-test', 'service.instance.id': 'w1' }),
    spanProcessors: [new tracing.SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('framewire');
  const parent = tracer.startSpan('attempt noop', { kind: SpanKind.CONSUMER, attributes: { 'framewire.attempt': 2, 'messaging.system': 'nats' } }, ROOT_CONTEXT);
  const first = { traceId: parent.spanContext().traceId, spanId: '00f067aa0ba902b7', traceFlags: 1 };
  const child = tracer.startSpan(
    'ffmpeg',
    {
      kind: SpanKind.INTERNAL,
      attributes: { 'process.command_args': ['-i', 'in.mp4'], 'process.exit.code': 0, ratio: 0.5, done: false },
      links: [{ context: first, attributes: { 'framewire.attempt': 1 } }],
    },
    trace.setSpan(ROOT_CONTEXT, parent),
  );
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'exit 1' });
  child.end();
  parent.end();
  return exporter.getFinishedSpans();
}

describe('the OTLP test receiver', () => {
  const spans = sdkSpans();
  const [ffmpeg, attempt] = spans;

  it('decodes protobuf and JSON requests from otlp-transformer to the same spans, with ids, parents, kinds, attributes and links', () => {
    const fromProtobuf = decodeTraceRequest(ProtobufTraceSerializer.serializeRequest(spans)!, false);
    const fromJson = decodeTraceRequest(JsonTraceSerializer.serializeRequest(spans)!, true);
    expect(fromJson).toEqual(fromProtobuf);
    expect(fromProtobuf).toEqual([
      expect.objectContaining({
        service: 'framewire-test',
        traceId: attempt!.spanContext().traceId,
        spanId: ffmpeg!.spanContext().spanId,
        parentSpanId: attempt!.spanContext().spanId,
        name: 'ffmpeg',
        kind: SpanKind.INTERNAL,
        attributes: { 'process.command_args': ['-i', 'in.mp4'], 'process.exit.code': 0, ratio: 0.5, done: false },
        links: [{ traceId: attempt!.spanContext().traceId, spanId: '00f067aa0ba902b7', attributes: { 'framewire.attempt': 1 } }],
        status: { code: SpanStatusCode.ERROR, message: 'exit 1' },
        resource: expect.objectContaining({ 'service.instance.id': 'w1' }),
      }),
      expect.objectContaining({ name: 'attempt noop', kind: SpanKind.CONSUMER, attributes: { 'framewire.attempt': 2, 'messaging.system': 'nats' }, links: [] }),
    ]);
    expect(fromProtobuf[1]).not.toHaveProperty('parentSpanId');
    const [start, end] = [fromProtobuf[0]!.startMs, fromProtobuf[0]!.endMs];
    expect(Math.abs(start - (ffmpeg!.startTime[0] * 1000 + ffmpeg!.startTime[1] / 1e6))).toBeLessThan(0.01);
    expect(end).toBeGreaterThanOrEqual(start);
  });

  describe('over HTTP', () => {
    let receiver: OtlpReceiver;
    beforeAll(async () => {
      receiver = await OtlpReceiver.start();
    });
    afterAll(() => receiver.close());

    it('answers an export with 200 and an empty response in its encoding, and keeps its spans', async () => {
      const proto = await fetch(`${receiver.endpoint}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!) });
      expect({ status: proto.status, type: proto.headers.get('content-type'), bytes: (await proto.arrayBuffer()).byteLength }).toEqual({ status: 200, type: 'application/x-protobuf', bytes: 0 });
      const json = await fetch(`${receiver.endpoint}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.from(JsonTraceSerializer.serializeRequest(spans)!) });
      expect({ status: json.status, body: await json.json() }).toEqual({ status: 200, body: {} });
      const names = await receiver.waitFor((received) => received.length === 4 && received.map((s) => s.name));
      expect(names).toEqual(['ffmpeg', 'attempt noop', 'ffmpeg', 'attempt noop']);
      expect(receiver.trace(attempt!.spanContext().traceId)).toHaveLength(4);
    });

    it('refuses a body that is not a trace request with 400, and other paths with 404', async () => {
      const bad = await fetch(`${receiver.endpoint}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'not json' });
      expect(bad.status).toBe(400);
      expect(receiver.failures).toHaveLength(1);
      expect((await fetch(`${receiver.endpoint}/v1/metrics`, { method: 'POST', body: '' })).status).toBe(404);
    });
  });
});
