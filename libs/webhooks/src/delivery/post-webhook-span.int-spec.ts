import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Webhook } from 'standardwebhooks';
import { SpanKind, SpanStatusCode, recordSpansForTests, type RecordedSpans } from '@app/observability';
import { createWebhookAgents } from './post-webhook.js';
import { postWebhookInSpan, urlAttributes, type WebhookAttempt } from './post-webhook-span.js';
import { newWebhookSecret, webhookHeaders } from './signing.js';

// A stored event's trace context, as the fan-out keeps it on a delivery row.
const EVENT_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const EVENT_SPAN_ID = '00f067aa0ba902b7';
const STORED = { traceparent: `00-${EVENT_TRACE_ID}-${EVENT_SPAN_ID}-01`, tracestate: 'vendor=abc' };

let tracing: RecordedSpans;
const servers: Server[] = [];
const agents = createWebhookAgents();

beforeAll(() => {
  tracing = recordSpansForTests();
});
afterEach(async () => {
  tracing.reset();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
afterAll(async () => {
  agents.http.destroy();
  agents.https.destroy();
  await tracing.stop();
});

/** A receiver on 127.0.0.1 that keeps each request's headers and body and answers with `answer` (never, when it returns nothing). */
async function receiver(answer: (res: ServerResponse) => void): Promise<{ url: string; requests: Array<{ headers: IncomingHttpHeaders; body: string }> }> {
  const requests: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      answer(res);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks`, requests };
}

const status = (code: number) => (res: ServerResponse) => res.writeHead(code).end();
const body = JSON.stringify({ type: 'job.completed', data: { job_id: 'j' } });
const attempt: WebhookAttempt = { deliveryId: 'b3f1c1de-7d0c-4d5e-9a37-0c3c39c0f6a1', attempt: 2, jobId: 'job-7', trace: STORED };

function send(url: string, overrides: { timeoutMs?: number; attempt?: Partial<WebhookAttempt>; headers?: Record<string, string> } = {}) {
  const request = { url, body, headers: overrides.headers ?? { 'content-type': 'application/json' }, timeoutMs: overrides.timeoutMs ?? 5_000, policy: { allowHttp: true, allowPrivateNetworks: true }, agent: agents };
  return postWebhookInSpan(request, { ...attempt, ...overrides.attempt });
}

function onlySpan(): ReadableSpan {
  const spans = tracing.ended();
  expect(spans.map((s) => s.name)).toEqual(['POST webhook']);
  return spans[0]!;
}

describe('postWebhookInSpan', () => {
  it("is a CLIENT span in the stored event's trace, and the receiver gets its traceparent (the signature still verifies)", async () => {
    const server = await receiver(status(204));
    const secret = newWebhookSecret();
    const headers = webhookHeaders({ msgId: attempt.deliveryId, timestampSeconds: Math.floor(Date.now() / 1000), body, secrets: [secret] });
    const outcome = await send(`${server.url}?token=s3cret`, { headers });
    expect(outcome).toMatchObject({ kind: 'delivered', status: 204 });

    const span = onlySpan();
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.spanContext().traceId).toBe(EVENT_TRACE_ID);
    expect(span.parentSpanContext?.spanId).toBe(EVENT_SPAN_ID);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes).toEqual({
      'http.request.method': 'POST',
      'url.full': server.url,
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(server.url).port),
      'http.response.status_code': 204,
      'framewire.webhook.delivery_id': attempt.deliveryId,
      'framewire.webhook.attempt': 2,
      'framewire.job_id': 'job-7',
    });

    const [request] = server.requests;
    expect(request!.headers['traceparent']).toBe(`00-${EVENT_TRACE_ID}-${span.spanContext().spanId}-01`);
    expect(request!.headers['tracestate']).toBe('vendor=abc');
    const received = Object.fromEntries(Object.entries(request!.headers).map(([name, value]) => [name, String(value)]));
    expect(new Webhook(secret).verify(request!.body, received)).toEqual(JSON.parse(body));
  });

  it('starts a trace of its own for a delivery whose event was not traced', async () => {
    const server = await receiver(status(200));
    await send(server.url, { attempt: { trace: null } });
    const span = onlySpan();
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.spanContext().traceId).not.toBe(EVENT_TRACE_ID);
    expect(server.requests[0]!.headers['traceparent']).toBe(`00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
  });

  it.each([
    [503, 'retry'],
    [404, 'failed'],
  ])('marks a %i as an error whose type is the status', async (code, kind) => {
    const server = await receiver(status(code));
    expect(await send(server.url)).toMatchObject({ kind, status: code });
    const span = onlySpan();
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: `HTTP ${code}` });
    expect(span.attributes).toMatchObject({ 'http.response.status_code': code, 'error.type': String(code) });
  });

  it('marks a timeout and a refused connection as errors, with no status', async () => {
    const silent = await receiver(() => undefined);
    expect(await send(silent.url, { timeoutMs: 300 })).toMatchObject({ kind: 'retry', status: null });
    const closed = await receiver(status(200));
    await new Promise((resolve) => servers.pop()!.close(resolve));
    expect(await send(closed.url)).toMatchObject({ kind: 'retry', status: null });

    const spans = tracing.ended();
    expect(spans.map((s) => [s.status.code, s.attributes['error.type'], s.attributes['http.response.status_code']])).toEqual([
      [SpanStatusCode.ERROR, 'timeout', undefined],
      [SpanStatusCode.ERROR, 'ECONNREFUSED', undefined],
    ]);
  });
});

describe('urlAttributes', () => {
  it('keeps no query string, credentials or fragment in url.full, and names the default port', () => {
    expect(urlAttributes('https://user:pw@hooks.example.com/in?sig=secret#x')).toEqual({
      'url.full': 'https://hooks.example.com/in',
      'server.address': 'hooks.example.com',
      'server.port': 443,
    });
    expect(urlAttributes('http://[::1]:8080/')).toEqual({ 'url.full': 'http://[::1]:8080/', 'server.address': '::1', 'server.port': 8080 });
    expect(urlAttributes('not a url')).toEqual({});
  });
});
