import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One delivery as the sink saw it. */
export interface SunkWebhook {
  /** The `webhook-id` header: the same on every attempt of one delivery. */
  id: string;
  /** Wall-clock milliseconds (with a fraction) when the whole body had arrived. */
  receivedAt: number;
  type: string;
  jobId: string;
  status: string;
  /** True when a signature in `webhook-signature` matches one of `secrets`. */
  signed: boolean;
}

/**
 * A webhook endpoint for load, the chaos run and the benchmark: a node:http server on 127.0.0.1 that
 * keeps a summary of every delivery it answered 200 and checks its signature with the specification's
 * own library (never with our code). test/support/webhook-receiver.ts is the one for e2e tests, which
 * keeps whole requests and answers as each test says. With `failRate` it answers 503 to that
 * fraction of requests (at random), so that the sender's retries are exercised; `hold` keeps
 * requests unanswered until `release`, so that a backlog builds up behind the sender's full slots.
 */
export class WebhookSink {
  readonly received: SunkWebhook[] = [];
  /** Requests answered 503 on purpose. */
  refused = 0;
  /** Requests that were not a delivery (no id, or a body that is not a webhook payload). */
  malformed = 0;
  /** The endpoints' secrets (known once they are created). */
  secrets: string[] = [];
  private listeners = new Set<(webhook: SunkWebhook) => void>();
  /** Requests parked unanswered while held (see hold). */
  private parked: Array<() => void> | null = null;

  private constructor(
    private readonly server: Server,
    private readonly failRate: number,
  ) {}

  static async start(options: { failRate?: number } = {}): Promise<WebhookSink> {
    const server = createServer();
    const receiver = new WebhookSink(server, options.failRate ?? 0);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      const answer = () => {
        const receivedAt = performance.timeOrigin + performance.now();
        if (Math.random() < receiver.failRate) {
          receiver.refused++;
          res.writeHead(503).end();
          return;
        }
        const body = Buffer.concat(chunks).toString('utf8');
        const webhook = receiver.parse(req.headers, body, receivedAt);
        if (!webhook) {
          receiver.malformed++;
          res.writeHead(400).end();
          return;
        }
        receiver.received.push(webhook);
        for (const listener of receiver.listeners) listener(webhook);
        res.writeHead(200).end();
      };
      req.on('end', () => (receiver.parked ? receiver.parked.push(answer) : answer()));
    });
    // Loopback: the jobs service needs WEBHOOK_ALLOW_HTTP=1 and WEBHOOK_ALLOW_PRIVATE_NETWORKS=1 to call it.
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  /** Calls `listener` with every delivery answered 200 from now on; returns the unsubscribe. */
  onReceive(listener: (webhook: SunkWebhook) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Parks every request that arrives from now on, unanswered, until `release` (the sender's slots fill up). */
  hold(): void {
    this.parked ??= [];
  }

  /** Answers the parked requests (each counts as received now) and every later one at once. */
  release(): void {
    const parked = this.parked ?? [];
    this.parked = null;
    for (const answer of parked) answer();
  }

  /** Requests parked by `hold` so far. */
  get held(): number {
    return this.parked?.length ?? 0;
  }

  async close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private parse(headers: Record<string, string | string[] | undefined>, body: string, receivedAt: number): SunkWebhook | null {
    const id = headers['webhook-id'];
    const timestamp = headers['webhook-timestamp'];
    const signature = headers['webhook-signature'];
    if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signature !== 'string') return null;
    let payload: { type?: unknown; data?: { job_id?: unknown; status?: unknown } };
    try {
      payload = JSON.parse(body) as typeof payload;
    } catch {
      return null;
    }
    if (typeof payload.type !== 'string' || typeof payload.data?.job_id !== 'string') return null;
    const signed = this.secrets.some((secret) => verifies(secret, body, { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature }));
    return { id, receivedAt, type: payload.type, jobId: payload.data.job_id, status: String(payload.data.status), signed };
  }
}

function verifies(secret: string, body: string, headers: Record<string, string>): boolean {
  try {
    new Webhook(secret).verify(body, headers);
    return true;
  } catch {
    return false;
  }
}
