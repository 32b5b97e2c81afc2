import {
  context,
  createContextKey,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
  type SpanOptions,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import { NodeSDK, resources } from '@opentelemetry/sdk-node';

export { SpanKind, SpanStatusCode, context as traceContext, trace as traceApi, ROOT_CONTEXT, type Attributes, type Context, type Link, type Span, type SpanContext };

/**
 * OpenTelemetry traces (docs/adr/0012-tracing.md). Off unless the environment asks for them
 * (tracingRequested); then every app registers the SDK before anything else, configured by the
 * standard OTEL_* variables, and every span below goes to its exporter. Off, the API's no-op tracer
 * and propagator answer every call: no span is made, no header is written.
 */

/** Attribute names: the semantic conventions' (messaging, HTTP, process), and Framewire's own under `framewire.`. */
export const TraceAttr = {
  messagingSystem: 'messaging.system',
  messagingOperationType: 'messaging.operation.type',
  messagingOperationName: 'messaging.operation.name',
  messagingDestination: 'messaging.destination.name',
  messagingConsumerGroup: 'messaging.consumer.group.name',
  messagingMessageId: 'messaging.message.id',
  messagingConversationId: 'messaging.message.conversation_id',
  messagingBodySize: 'messaging.message.body.size',
  messagingBatchCount: 'messaging.batch.message_count',
  /** No convention names a redelivery count; NATS's is under the system's own prefix, as the conventions do for others. */
  natsDeliveryCount: 'messaging.nats.message.delivery_count',
  natsStreamSequence: 'messaging.nats.stream.sequence',
  httpMethod: 'http.request.method',
  httpRoute: 'http.route',
  httpStatus: 'http.response.status_code',
  urlPath: 'url.path',
  urlFull: 'url.full',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  userAgent: 'user_agent.original',
  processCommand: 'process.command',
  processArgs: 'process.command_args',
  processExitCode: 'process.exit.code',
  errorType: 'error.type',
  jobId: 'framewire.job_id',
  correlationId: 'framewire.correlation_id',
  eventType: 'framewire.event.type',
  attempt: 'framewire.attempt',
  pipeline: 'framewire.pipeline',
  tool: 'framewire.tool',
  part: 'framewire.part.index',
  workerId: 'framewire.worker_id',
  webhookDeliveryId: 'framewire.webhook.delivery_id',
  /** The attempt's number within its delivery, from 1 (a manual retry goes on counting). */
  webhookAttempt: 'framewire.webhook.attempt',
  uploadBytes: 'framewire.upload.bytes',
  uploadId: 'framewire.upload.id',
  uploadOffset: 'framewire.upload.offset',
} as const;

/** The header an event appended inside a job attempt carries: that attempt's span, so the next attempt can link to it. */
export const ATTEMPT_TRACE_HEADER = 'Framewire-Attempt-Traceparent';

const ATTEMPT_SPAN_KEY = createContextKey('framewire.attempt-span');

const TRACER_NAME = 'framewire';

/** Whether the environment asks for traces: an OTLP endpoint, or a traces exporter other than `none`; never when the SDK is disabled. */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (exporters.length > 0) return !exporters.every((name) => name === 'none');
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

export interface Tracing {
  readonly enabled: boolean;
  /** Sends what is still buffered and stops; resolves within `timeoutMs` whatever the collector does. */
  shutdown(timeoutMs?: number): Promise<void>;
}

const OFF: Tracing = { enabled: false, shutdown: () => Promise.resolve() };

/**
 * Registers the OpenTelemetry SDK for this process when the environment asks for traces. The service
 * is named `framewire-<app>` unless OTEL_SERVICE_NAME names it, in the namespace `framewire`, with
 * `attributes` (a worker's `service.instance.id`); OTEL_RESOURCE_ATTRIBUTES, the
 * exporter (OTLP over HTTP/protobuf by default, OTEL_EXPORTER_OTLP_PROTOCOL for JSON or gRPC), its
 * endpoint and headers, the sampler and the batch processor's timings are the SDK's own OTEL_*
 * variables. Only traces: metrics stay on /metrics (Prometheus), logs on stdout.
 */
export function startTracing(app: string, attributes: Attributes = {}, env: NodeJS.ProcessEnv = process.env): Tracing {
  if (!tracingRequested(env)) return OFF;
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME?.trim() || `framewire-${app}`,
    resource: resources.defaultResource().merge(resources.resourceFromAttributes({ 'service.namespace': 'framewire', ...attributes })),
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  enabled = true;
  return {
    enabled: true,
    shutdown: (timeoutMs = 5000) =>
      Promise.race([sdk.shutdown().catch(() => undefined), new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref())]),
  };
}

let enabled = false;

/**
 * Marks this process as recording spans (or not) without startTracing: for a test that registers its
 * own tracer provider (tracing-testing.ts). Everything else turns tracing on through startTracing.
 */
export function setTracingActive(active: boolean): void {
  enabled = active;
}

/** Framewire's tracer (the API's no-op tracer while tracing is off). */
export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/** Whether this process records spans: false while tracing is off, so callers can skip what only a span needs. */
export function tracingActive(): boolean {
  return enabled;
}

/**
 * Runs `fn` in a new span, child of `parent` (the active context by default): the span is current
 * inside it, ends when it settles, and records a thrown error as the span's error.
 */
export async function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>, parent: Context = context.active()): Promise<T> {
  const span = tracer().startSpan(name, options, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (error) {
    recordError(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** Starts a span (not made current): for spans whose start and end are not one function's. */
export function startSpan(name: string, options: SpanOptions, parent: Context = context.active()): Span {
  return tracer().startSpan(name, options, parent);
}

/** Marks `span` as failed by `error`: its message, its type (`error.type`: the error's code, else its class) and the exception. */
export function recordError(span: Span, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.setAttribute(TraceAttr.errorType, errorTypeOf(error));
  if (error instanceof Error) span.recordException(error);
}

function errorTypeOf(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.name : 'Error';
}

/** What a NATS message's headers (MsgHdrs) offer a propagator. */
export interface HeaderReader {
  get(name: string): string | undefined | null;
}
export interface HeaderWriter {
  set(name: string, value: string): void;
}

const readHeaders: TextMapGetter<HeaderReader> = {
  keys: () => ['traceparent', 'tracestate'],
  get: (carrier, key) => carrier.get(key) || undefined,
};
const writeHeaders: TextMapSetter<HeaderWriter> = { set: (carrier, key, value) => carrier.set(key, value) };

/** Writes the W3C trace context of `ctx` (`traceparent`, `tracestate`) into message headers; nothing while tracing is off. */
export function injectTraceContext(headers: HeaderWriter, ctx: Context = context.active()): void {
  propagation.inject(ctx, headers, writeHeaders);
  const attemptSpan = ctx.getValue(ATTEMPT_SPAN_KEY) as SpanContext | undefined;
  if (attemptSpan) headers.set(ATTEMPT_TRACE_HEADER, traceparentOf(attemptSpan));
}

/** The context a message's `traceparent` (and `tracestate`) continues; the root context when it has none or tracing is off. */
export function traceContextFrom(headers: HeaderReader | undefined | null): Context {
  return headers ? propagation.extract(ROOT_CONTEXT, headers, readHeaders) : ROOT_CONTEXT;
}

/** The context a stored `traceparent` (and `tracestate`) continues; the root context without one. */
export function traceContextOf(traceparent: string | undefined, tracestate?: string): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return traceContextFrom({ get: (name) => (name === 'traceparent' ? traceparent : name === 'tracestate' ? tracestate : undefined) });
}

/** `ctx` marked as running job attempt `span`: every event appended inside it names that attempt (ATTEMPT_TRACE_HEADER). */
export function withAttemptSpan(ctx: Context, span: Span): Context {
  return trace.setSpan(ctx, span).setValue(ATTEMPT_SPAN_KEY, span.spanContext());
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The W3C `traceparent` of a span context. */
export function traceparentOf(span: SpanContext): string {
  return `00-${span.traceId}-${span.spanId}-${(span.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The span context a W3C `traceparent` names (remote), or null when it is not one. */
export function spanContextOf(traceparent: string | undefined | null): SpanContext | null {
  const match = traceparent ? TRACEPARENT.exec(traceparent.trim()) : null;
  if (!match || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!)) return null;
  return { traceId: match[1]!, spanId: match[2]!, traceFlags: parseInt(match[3]!, 16), isRemote: true };
}

/** The trace id of a W3C `traceparent`, or null. */
export function traceIdOf(traceparent: string | undefined | null): string | null {
  return spanContextOf(traceparent)?.traceId ?? null;
}

/** `trace_id` and `span_id` of the span running now, for log lines; empty outside a recorded span. */
export function traceLogFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return trace.isSpanContextValid(span.spanContext()) ? { trace_id: traceId, span_id: spanId } : {};
}

/** The attributes of a span about a NATS message (the semantic conventions for messaging). */
export function messagingAttributes(operation: 'send' | 'receive' | 'process' | 'create', name: string, destination: string, extra: Attributes = {}): Attributes {
  return {
    [TraceAttr.messagingSystem]: 'nats',
    [TraceAttr.messagingOperationType]: operation,
    [TraceAttr.messagingOperationName]: name,
    [TraceAttr.messagingDestination]: destination,
    ...extra,
  };
}
