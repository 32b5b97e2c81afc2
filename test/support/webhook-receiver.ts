import { createServer, type IncomingHttpHeaders } from 'node:http';
import { eventually } from './services.js';

/** One request a receiver got: the Standard Webhooks headers as strings (what `Webhook.verify` takes), the raw body, what it answered. */
export interface ReceivedWebhook {
  id: string;
  headers: Record<string, string>;
  body: string;
  /** The body parsed: `{ type, timestamp, data }`. */
  payload: { type: string; timestamp: string; data: { job_id: string; status: string } };
  status: number;
}

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>/hooks/framewire`: needs WEBHOOK_ALLOW_HTTP=1 and WEBHOOK_ALLOW_PRIVATE_NETWORKS=1 in the jobs service. */
  readonly url: string;
  /** Every request, in the order they arrived (answered or not yet). */
  readonly received: ReceivedWebhook[];
  /** Waits until `count` requests arrived whose payload matches `match`, and returns them. */
  waitFor(count: number, match?: (r: ReceivedWebhook) => boolean, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

/**
 * A webhook receiver on 127.0.0.1, as an app would run one: a real HTTP server. `answer` gives the
 * status for the n-th request (0-based) and may wait first, to hold an attempt in flight.
 */
export async function webhookReceiver(answer: (n: number, request: ReceivedWebhook) => number | Promise<number> = () => 200): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const request: ReceivedWebhook = { id: String(req.headers['webhook-id']), headers: stringHeaders(req.headers), body, payload: JSON.parse(body) as ReceivedWebhook['payload'], status: 0 };
      const n = received.push(request) - 1;
      void Promise.resolve(answer(n, request)).then((status) => {
        request.status = status;
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(status < 300 ? 'ok' : 'not now');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hooks/framewire`,
    received,
    waitFor: (count, match = () => true, timeoutMs = 20_000) =>
      eventually(async () => {
        const matching = received.filter(match);
        return matching.length >= count ? matching : undefined;
      }, timeoutMs, `${count} matching webhook request(s) at the receiver`),
    close: async () => {
      // The sender keeps connections alive: close them, or close() waits for them.
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function stringHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : String(value)]));
}
