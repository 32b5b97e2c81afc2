import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { SpanKind } from '@opentelemetry/api';
import protobuf from 'protobufjs';
import { eventually } from './services.js';

/**
 * An OTLP/HTTP trace receiver for tests: what a collector on loopback would get from the apps'
 * exporters, decoded into plain spans a test can assert on. It takes both encodings an exporter
 * sends (OTEL_EXPORTER_OTLP_PROTOCOL): `http/protobuf` (the default) and `http/json`.
 *
 * Why protobufjs and a schema here rather than OpenTelemetry's own decoder: @opentelemetry/otlp-transformer
 * (0.223) no longer ships the generated protobuf root it once had; it encodes requests by hand and
 * decodes only the collector's *response* (its ProtobufReader is internal, behind a deep path, and
 * knows no request fields). So the request is decoded by protobufjs from the fields of
 * opentelemetry-proto's trace_service.proto, trace.proto, resource.proto and common.proto below, and
 * otlp-receiver.spec.ts checks this decoder against otlp-transformer's own serializers (both
 * encodings of the same spans must decode alike).
 */

/** An attribute's value, flattened from OTLP's AnyValue. */
export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };

export interface ReceivedLink {
  traceId: string;
  spanId: string;
  attributes: Record<string, AttributeValue>;
}

/** One span as the receiver got it. Ids are lower-case hex; times are milliseconds since the epoch (fractional). */
export interface ReceivedSpan {
  /** The resource's `service.name`. */
  service: string;
  traceId: string;
  spanId: string;
  /** Absent for a root span. */
  parentSpanId?: string;
  name: string;
  /** The API's SpanKind (OTLP's enum is one higher and has UNSPECIFIED at 0). */
  kind: SpanKind;
  attributes: Record<string, AttributeValue>;
  links: ReceivedLink[];
  startMs: number;
  endMs: number;
  /** 0 unset, 1 ok, 2 error (OTLP's StatusCode, the same numbers as the API's SpanStatusCode). */
  status: { code: number; message?: string };
  resource: Record<string, AttributeValue>;
}

const anyValue = {
  oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'] } },
  fields: {
    stringValue: { type: 'string', id: 1 },
    boolValue: { type: 'bool', id: 2 },
    intValue: { type: 'int64', id: 3 },
    doubleValue: { type: 'double', id: 4 },
    arrayValue: { type: 'ArrayValue', id: 5 },
    kvlistValue: { type: 'KeyValueList', id: 6 },
    bytesValue: { type: 'bytes', id: 7 },
  },
};
const attributes = { rule: 'repeated', type: 'KeyValue' } as const;

/** The OTLP trace request's messages (opentelemetry-proto v1), field numbers as in its .proto files. */
const OTLP = protobuf.Root.fromJSON({
  nested: {
    ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
    ResourceSpans: { fields: { resource: { type: 'Resource', id: 1 }, scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 }, schemaUrl: { type: 'string', id: 3 } } },
    Resource: { fields: { attributes: { ...attributes, id: 1 }, droppedAttributesCount: { type: 'uint32', id: 2 } } },
    ScopeSpans: { fields: { scope: { type: 'InstrumentationScope', id: 1 }, spans: { rule: 'repeated', type: 'Span', id: 2 }, schemaUrl: { type: 'string', id: 3 } } },
    InstrumentationScope: { fields: { name: { type: 'string', id: 1 }, version: { type: 'string', id: 2 }, attributes: { ...attributes, id: 3 } } },
    Span: {
      fields: {
        traceId: { type: 'bytes', id: 1 },
        spanId: { type: 'bytes', id: 2 },
        traceState: { type: 'string', id: 3 },
        parentSpanId: { type: 'bytes', id: 4 },
        name: { type: 'string', id: 5 },
        kind: { type: 'int32', id: 6 },
        startTimeUnixNano: { type: 'fixed64', id: 7 },
        endTimeUnixNano: { type: 'fixed64', id: 8 },
        attributes: { ...attributes, id: 9 },
        droppedAttributesCount: { type: 'uint32', id: 10 },
        events: { rule: 'repeated', type: 'SpanEvent', id: 11 },
        links: { rule: 'repeated', type: 'SpanLink', id: 13 },
        status: { type: 'Status', id: 15 },
        flags: { type: 'fixed32', id: 16 },
      },
    },
    SpanEvent: { fields: { timeUnixNano: { type: 'fixed64', id: 1 }, name: { type: 'string', id: 2 }, attributes: { ...attributes, id: 3 } } },
    SpanLink: { fields: { traceId: { type: 'bytes', id: 1 }, spanId: { type: 'bytes', id: 2 }, traceState: { type: 'string', id: 3 }, attributes: { ...attributes, id: 4 }, flags: { type: 'fixed32', id: 6 } } },
    Status: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
    KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
    AnyValue: anyValue,
    ArrayValue: { fields: { values: { rule: 'repeated', type: 'AnyValue', id: 1 } } },
    KeyValueList: { fields: { values: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
  },
}).lookupType('ExportTraceServiceRequest');

/** The request in OTLP/JSON's shape (camelCase; ids hex in JSON, bytes after protobuf; 64-bit numbers as strings or numbers). */
interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}
interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
  bytesValue?: string | Uint8Array;
}
type OtlpId = string | Uint8Array | undefined;
interface OtlpSpan {
  traceId: OtlpId;
  spanId: OtlpId;
  parentSpanId?: OtlpId;
  name: string;
  kind?: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes?: OtlpKeyValue[];
  links?: Array<{ traceId: OtlpId; spanId: OtlpId; attributes?: OtlpKeyValue[] }>;
  status?: { code?: number; message?: string };
}
interface OtlpTraceRequest {
  resourceSpans?: Array<{ resource?: { attributes?: OtlpKeyValue[] }; scopeSpans?: Array<{ spans?: OtlpSpan[] }> }>;
}

/** Decodes an ExportTraceServiceRequest body; `json` for OTLP/JSON (content-type application/json), protobuf otherwise. */
export function decodeTraceRequest(body: Uint8Array, json: boolean): ReceivedSpan[] {
  const request: OtlpTraceRequest = json
    ? (JSON.parse(Buffer.from(body).toString('utf8')) as OtlpTraceRequest)
    : (OTLP.toObject(OTLP.decode(body), { longs: String, enums: Number }) as OtlpTraceRequest);
  return (request.resourceSpans ?? []).flatMap((resourceSpans) => {
    const resource = flatten(resourceSpans.resource?.attributes);
    const service = typeof resource['service.name'] === 'string' ? resource['service.name'] : '';
    return (resourceSpans.scopeSpans ?? []).flatMap((scope) => (scope.spans ?? []).map((span) => receivedSpan(span, service, resource)));
  });
}

function receivedSpan(span: OtlpSpan, service: string, resource: Record<string, AttributeValue>): ReceivedSpan {
  const parentSpanId = hex(span.parentSpanId);
  return {
    service,
    traceId: hex(span.traceId),
    spanId: hex(span.spanId),
    ...(parentSpanId ? { parentSpanId } : {}),
    name: span.name,
    // OTLP: 0 unspecified, 1 internal ... 5 consumer; the API: 0 internal ... 4 consumer.
    kind: Math.max(0, (span.kind ?? 1) - 1) as SpanKind,
    attributes: flatten(span.attributes),
    links: (span.links ?? []).map((link) => ({ traceId: hex(link.traceId), spanId: hex(link.spanId), attributes: flatten(link.attributes) })),
    startMs: nanosToMs(span.startTimeUnixNano),
    endMs: nanosToMs(span.endTimeUnixNano),
    status: { code: span.status?.code ?? 0, ...(span.status?.message ? { message: span.status.message } : {}) },
    resource,
  };
}

/** An id as hex: OTLP/JSON writes it so already, protobuf carries the bytes. Empty for none. */
function hex(id: OtlpId): string {
  if (id === undefined) return '';
  return typeof id === 'string' ? id.toLowerCase() : Buffer.from(id).toString('hex');
}

function nanosToMs(nanos: string | number): number {
  const value = BigInt(nanos);
  return Number(value / 1000n) / 1000;
}

function flatten(pairs: OtlpKeyValue[] | undefined): Record<string, AttributeValue> {
  return Object.fromEntries((pairs ?? []).map((pair) => [pair.key, plain(pair.value)]));
}

function plain(value: OtlpAnyValue | undefined): AttributeValue {
  if (!value) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(plain);
  if (value.kvlistValue) return flatten(value.kvlistValue.values);
  if (value.bytesValue !== undefined) return typeof value.bytesValue === 'string' ? value.bytesValue : Buffer.from(value.bytesValue).toString('hex');
  return null;
}

/**
 * A node:http server on 127.0.0.1 (a free port) taking `POST /v1/traces` in either encoding, keeping
 * every span, and answering 200 with an empty ExportTraceServiceResponse in the request's encoding.
 * Point an app at it with `OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint`.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Export requests answered, and bodies it could not decode (answered 400). */
  requests = 0;
  readonly failures: string[] = [];
  /** Spans received so far, kept or not. */
  count = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    /** Whether to keep the spans (a benchmark only counts them). */
    private readonly keep: boolean,
  ) {}

  static async start(options: { keep?: boolean } = {}): Promise<OtlpReceiver> {
    let receiver: OtlpReceiver | null = null;
    const server = createServer((req, res) => void receiver!.handle(req).then(([status, type, body]) => res.writeHead(status, { 'content-type': type }).end(body)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    receiver = new OtlpReceiver(server, (server.address() as AddressInfo).port, options.keep ?? true);
    return receiver;
  }

  /** The base URL for OTEL_EXPORTER_OTLP_ENDPOINT (the exporter adds /v1/traces). */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Resolves with what `pick` returns from the spans received so far once it is neither undefined nor false. */
  waitFor<T>(pick: (spans: readonly ReceivedSpan[]) => T | undefined | false, timeoutMs = 20_000, what = 'spans'): Promise<T> {
    return eventually(async () => {
      const value = pick(this.spans);
      return value === false ? undefined : value;
    }, timeoutMs, `${what} at the OTLP receiver (${this.spans.length} spans received: ${[...new Set(this.spans.map((s) => s.name))].join(', ')})`);
  }

  /** The spans of one trace. */
  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((span) => span.traceId === traceId);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage): Promise<[number, string, string | Uint8Array]> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/traces') return [404, 'text/plain', 'not found'];
    const json = (req.headers['content-type'] ?? '').includes('json');
    const type = json ? 'application/json' : 'application/x-protobuf';
    let body: Uint8Array = Buffer.concat(chunks);
    try {
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const spans = decodeTraceRequest(body, json);
      this.requests += 1;
      this.count += spans.length;
      if (this.keep) this.spans.push(...spans);
      // An empty ExportTraceServiceResponse: no partial_success.
      return [200, type, json ? '{}' : new Uint8Array(0)];
    } catch (error) {
      this.failures.push(String(error));
      return [400, 'text/plain', String(error)];
    }
  }
}
