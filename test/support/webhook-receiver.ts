import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { freeTcpPort } from './processes.js';
import { eventually } from './services.js';

/** One request as a webhook receiver got it: the raw body (what the signature covers) and the headers. */
export interface ReceivedWebhook {
  /** The `webhook-id`, `webhook-timestamp` and `webhook-signature` headers, as a verifier takes them. */
  headers: Record<string, string>;
  id: string;
  body: string;
  json: { type: string; timestamp: string; data: Record<string, any> };
  /** The status this receiver answered (0 while it holds the request). */
  answered: number;
  /** The W3C `traceparent` header, when the sender traced the attempt. */
  traceparent: string | undefined;
}

/**
 * A real HTTP receiver on 127.0.0.1, on a port it keeps across close() and listen(): a test takes it
 * down (the port refuses connections) and brings it back at the same URL. `answer` decides each
 * response's status from what came before it (default: 200), and may wait first, to hold an attempt
 * in flight.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  answer: (hook: ReceivedWebhook, before: readonly ReceivedWebhook[]) => number | Promise<number> = () => 200;
  private server: Server | null = null;

  private constructor(readonly port: number) {}

  /** A receiver on a free port, not yet listening (listen() starts it). */
  static async create(): Promise<WebhookReceiver> {
    return new WebhookReceiver(await freeTcpPort());
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  /** Received requests whose body is about `jobId` (and of `type`, when given). */
  of(jobId: string, type?: string): ReceivedWebhook[] {
    return this.received.filter((hook) => hook.json.data['job_id'] === jobId && (type === undefined || hook.json.type === type));
  }

  /** Waits until `count` received requests match `match`, and returns them. */
  waitFor(count: number, match: (hook: ReceivedWebhook) => boolean = () => true, timeoutMs = 20_000): Promise<ReceivedWebhook[]> {
    return eventually(async () => {
      const matching = this.received.filter(match);
      return matching.length >= count ? matching : undefined;
    }, timeoutMs, `${count} matching webhook request(s) at the receiver`);
  }

  listen(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const traceparent = typeof req.headers.traceparent === 'string' ? req.headers.traceparent : undefined;
        const hook: ReceivedWebhook = { headers: webhookHeaders(req.headers), id: String(req.headers['webhook-id']), body, json: JSON.parse(body), answered: 0, traceparent };
        const before = [...this.received];
        this.received.push(hook);
        void Promise.resolve(this.answer(hook, before)).then((status) => {
          hook.answered = status;
          res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now');
        });
      });
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  /** Stops listening and drops every open connection (the sender's pooled ones too): the port refuses from now on. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }
}

function webhookHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
    const value = headers[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

/** A receiver already listening, answering with `answer` (its n-th request is `before.length`). */
export async function webhookReceiver(answer?: WebhookReceiver['answer']): Promise<WebhookReceiver> {
  const receiver = await WebhookReceiver.create();
  if (answer) receiver.answer = answer;
  await receiver.listen();
  return receiver;
}
