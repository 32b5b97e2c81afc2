import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { createWebhookAgents, postWebhook } from './post-webhook.js';
import type { WebhookUrlPolicy } from './url-policy.js';

// Receivers are real HTTP servers on 127.0.0.1, which only a policy allowing private networks reaches.
const local: WebhookUrlPolicy = { allowHttp: true, allowPrivateNetworks: true };
const publicOnly: WebhookUrlPolicy = { allowHttp: true, allowPrivateNetworks: false };

interface Receiver {
  url: string;
  port: number;
  requests: { method?: string; url?: string; headers: IncomingHttpHeaders; body: Buffer }[];
  connections: number;
}

const servers: Server[] = [];
const agents = createWebhookAgents();

/** A receiver answering every request with `handler`, after reading the whole body. */
async function receiver(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Receiver> {
  const received: Receiver = { url: '', port: 0, requests: [], connections: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.requests.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      handler(req, res);
    });
  });
  server.on('connection', () => (received.connections += 1));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  received.port = (server.address() as { port: number }).port;
  received.url = `http://127.0.0.1:${received.port}/hooks/framewire`;
  return received;
}

const answer = (status: number, headers: Record<string, string> = {}, body = '') => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, headers);
  res.end(body);
};

const body = JSON.stringify({ type: 'job.completed', data: { jobId: 'job-1', title: 'café ✓ 🎬' } });
const post = (url: string, overrides: { policy?: WebhookUrlPolicy; timeoutMs?: number; headers?: Record<string, string> } = {}) =>
  postWebhook({ url, body, headers: overrides.headers ?? { 'content-type': 'application/json' }, timeoutMs: overrides.timeoutMs ?? 5_000, policy: overrides.policy ?? local, agent: agents });

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
afterAll(() => {
  agents.http.destroy();
  agents.https.destroy();
});

describe('postWebhook', () => {
  it('delivers on a 2xx: the headers arrive as given and the body byte for byte', async () => {
    const server = await receiver(answer(200, {}, 'ok'));
    const headers = { 'content-type': 'application/json', 'webhook-id': 'msg_1', 'webhook-timestamp': '1764930000', 'webhook-signature': 'v1,abc=' };
    const outcome = await post(server.url, { headers });
    expect(outcome).toEqual({ kind: 'delivered', status: 200, durationMs: expect.any(Number) });
    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/hooks/framewire');
    expect(request.headers).toMatchObject({ ...headers, 'content-length': String(Buffer.byteLength(body)) });
    expect(request.body.equals(Buffer.from(body, 'utf8'))).toBe(true);
  });

  it("retries a 503, in the receiver's Retry-After", async () => {
    const server = await receiver(answer(503, { 'retry-after': '7' }, 'down for maintenance'));
    expect(await post(server.url)).toEqual({ kind: 'retry', status: 503, error: 'HTTP 503: down for maintenance', retryAfterMs: 7000, durationMs: expect.any(Number) });
  });

  it('retries a 429 and a 408, with no Retry-After when none is given', async () => {
    const tooMany = await receiver(answer(429));
    expect(await post(tooMany.url)).toMatchObject({ kind: 'retry', status: 429, error: 'HTTP 429', retryAfterMs: null });
    const timedOut = await receiver(answer(408));
    expect(await post(timedOut.url)).toMatchObject({ kind: 'retry', status: 408, retryAfterMs: null });
  });

  it('fails a 404 and a 410 for good, with the start of the body as printable text', async () => {
    const notFound = await receiver(answer(404, {}, `no\r\nsuch\u0000hook ${'x'.repeat(500)}`));
    const outcome = await post(notFound.url);
    expect(outcome).toMatchObject({ kind: 'failed', status: 404 });
    expect(outcome.kind === 'failed' && outcome.error).toBe(`HTTP 404: no such hook ${'x'.repeat(200 - 'no such hook '.length)}`);
    const gone = await receiver(answer(410));
    expect(await post(gone.url)).toEqual({ kind: 'failed', status: 410, error: 'HTTP 410', durationMs: expect.any(Number) });
  });

  it('does not follow a redirect, and names where it led', async () => {
    const target = await receiver(answer(200));
    const server = await receiver(answer(302, { location: target.url }));
    expect(await post(server.url)).toMatchObject({ kind: 'failed', status: 302, error: `redirect to ${target.url} not followed` });
    expect(target.requests).toHaveLength(0);
  });

  it('retries when no response comes within the timeout', async () => {
    const server = await receiver(() => undefined);
    const outcome = await post(server.url, { timeoutMs: 300 });
    expect(outcome).toMatchObject({ kind: 'retry', status: null, error: 'no response within 300 ms', retryAfterMs: null });
    expect(outcome.durationMs).toBeGreaterThanOrEqual(290);
    expect(outcome.durationMs).toBeLessThan(3_000);
  });

  it('keeps the status when the body is what stalls past the timeout', async () => {
    const server = await receiver((_req, res) => {
      res.writeHead(200);
      res.write('partial');
    });
    expect(await post(server.url, { timeoutMs: 300 })).toMatchObject({ kind: 'delivered', status: 200 });
  });

  it('reads no more than 64 KiB of a response', async () => {
    const server = await receiver(answer(500, {}, 'e'.repeat(1024 * 1024)));
    expect(await post(server.url)).toMatchObject({ kind: 'retry', status: 500, error: `HTTP 500: ${'e'.repeat(200)}` });
  });

  it('retries a connection refused', async () => {
    const closed = await receiver(answer(200));
    const url = closed.url;
    await new Promise((resolve) => servers.pop()!.close(resolve));
    expect(await post(url)).toMatchObject({ kind: 'retry', status: null, error: 'connection refused', retryAfterMs: null });
  });

  it('retries a connection closed without a response', async () => {
    const server = await receiver((req) => req.socket.destroy());
    expect(await post(server.url)).toMatchObject({ kind: 'retry', status: null, error: 'connection closed without a response' });
  });

  it('retries a TLS failure (here https to a server that speaks plain HTTP)', async () => {
    const server = await receiver(answer(200));
    const outcome = await post(server.url.replace('http:', 'https:'));
    expect(outcome).toMatchObject({ kind: 'retry', status: null, error: expect.stringMatching(/^TLS error: /), retryAfterMs: null });
    expect(server.requests).toHaveLength(0);
  });

  it('refuses an IP-literal address the policy forbids, without connecting', async () => {
    const server = await receiver(answer(200));
    expect(await post(server.url, { policy: publicOnly })).toMatchObject({
      kind: 'retry',
      status: null,
      error: expect.stringMatching(/^127\.0\.0\.1 is a loopback address/),
      retryAfterMs: null,
    });
    expect(server.connections).toBe(0);
  });

  it('refuses a name that resolves to a forbidden address, without connecting', async () => {
    const server = await receiver(answer(200));
    expect(await post(`http://localhost:${server.port}/`, { policy: publicOnly })).toMatchObject({
      kind: 'retry',
      status: null,
      error: expect.stringMatching(/^localhost resolves to (127\.0\.0\.1|::1), a loopback address/),
    });
    expect(server.connections).toBe(0);
  });

  it('fails a URL the policy refuses by its shape', async () => {
    expect(await post('http://hooks.example.com/', { policy: { allowHttp: false, allowPrivateNetworks: false } })).toMatchObject({
      kind: 'failed',
      status: null,
      error: 'http URLs are refused (set WEBHOOK_ALLOW_HTTP=1 to allow them)',
    });
  });

  it('sends one request after another on a kept-alive connection', async () => {
    const server = await receiver(answer(204));
    expect(await post(server.url)).toMatchObject({ kind: 'delivered', status: 204 });
    expect(await post(server.url)).toMatchObject({ kind: 'delivered', status: 204 });
    expect(server.connections).toBe(1);
  });
});
