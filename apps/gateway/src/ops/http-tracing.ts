import type { IncomingMessage, ServerResponse } from 'node:http';
import { redactUrl, SpanKind, SpanStatusCode, startSpan, traceContextFrom, TraceAttr, type Attributes, type Context, type Span } from '@app/observability';

/** Route patterns that are not routes: the metrics' labels for a 404 and for the dashboard's files. */
const NOT_A_ROUTE = new Set(['unmatched', 'static']);

/** A route of one job, whose `:id` is the job's id (`/v1/jobs/:id`, `/v1/jobs/:id/events`, ...). */
const JOB_ROUTE = /^\/v1\/jobs\/:id(\/|$)/;

/**
 * The SERVER span of one request (docs/adr/0012-tracing.md), child of the caller's `traceparent`
 * when it sent one: `parent` is the context it continues, `span` the one to make current around the
 * request's handling. Its name and route are only known at the end (endRequestSpan).
 */
export function startRequestSpan(req: IncomingMessage & { originalUrl?: string }, correlationId: string): { span: Span; parent: Context } {
  const parent = traceContextFrom({ get: (name) => firstHeader(req.headers[name]) });
  const attributes: Attributes = {
    [TraceAttr.httpMethod]: req.method ?? 'GET',
    // The whole path: a middleware mounted on a pattern sees req.url without it.
    [TraceAttr.urlPath]: redactUrl((req.originalUrl ?? req.url ?? '/').split('?')[0]!),
    [TraceAttr.correlationId]: correlationId,
  };
  if (req.socket.localPort !== undefined) attributes[TraceAttr.serverPort] = req.socket.localPort;
  const userAgent = firstHeader(req.headers['user-agent']);
  if (userAgent) attributes[TraceAttr.userAgent] = userAgent;
  return { span: startSpan(req.method ?? 'GET', { kind: SpanKind.SERVER, attributes }, parent), parent };
}

/**
 * Ends a request's span once its response is done: named `<METHOD> <route>` after the route pattern
 * that answered (just `<METHOD>` when none did, as the HTTP conventions say), with the status, the
 * job when the route names one, and ERROR for a 5xx only (a 4xx is the client's, not the server's).
 */
export function endRequestSpan(span: Span, req: IncomingMessage & { params?: Record<string, unknown> }, res: ServerResponse, route: string): void {
  const method = req.method ?? 'GET';
  const template = NOT_A_ROUTE.has(route) ? null : route;
  span.updateName(requestSpanName(method, template));
  if (template) span.setAttribute(TraceAttr.httpRoute, template);
  span.setAttribute(TraceAttr.httpStatus, res.statusCode);
  const jobId = template && JOB_ROUTE.test(template) ? req.params?.['id'] : undefined;
  if (typeof jobId === 'string') span.setAttribute(TraceAttr.jobId, jobId);
  if (res.statusCode >= 500) {
    span.setStatus({ code: SpanStatusCode.ERROR });
    span.setAttribute(TraceAttr.errorType, String(res.statusCode));
  }
  span.end();
}

/** `POST /v1/jobs`; the method alone when no route template is known (so raw paths never name spans). */
export function requestSpanName(method: string, route: string | null): string {
  return route ? `${method} ${route}` : method;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
