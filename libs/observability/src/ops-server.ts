import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { runHealthChecks, type HealthCheck } from './health.js';

export interface OpsServerOptions {
  host: string;
  /** 0 picks a free port; the one chosen is in `port` after start(). */
  port: number;
  registry: Registry;
  checks: readonly HealthCheck[];
}

/**
 * The small HTTP listener of a service that has no HTTP API of its own (the jobs service, the
 * workers): `GET /metrics` (Prometheus text), `GET /health/live` (the process answers) and
 * `GET /health/ready` (its dependencies answer; 503 when one does not). Nothing else.
 */
export class OpsServer {
  private server: Server | null = null;
  port = 0;

  constructor(private readonly options: OpsServerOptions) {}

  async start(): Promise<number> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return send(res, 405, 'application/json', JSON.stringify({ error: { code: 'METHOD_NOT_ALLOWED', message: `${req.method} is not allowed` } }));
      }
      if (path === '/metrics') {
        this.options.registry.metrics().then(
          (text) => send(res, 200, this.options.registry.contentType, text),
          (error: unknown) => send(res, 500, 'text/plain', `metrics failed: ${String(error)}\n`),
        );
        return;
      }
      if (path === '/health/live') return send(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
      if (path === '/health/ready') {
        void runHealthChecks(this.options.checks).then((report) =>
          send(res, report.status === 'ok' ? 200 : 503, 'application/json', JSON.stringify(report)),
        );
        return;
      }
      send(res, 404, 'application/json', JSON.stringify({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${path}` } }));
    });
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'EADDRINUSE'
            ? new Error(`OPS_PORT ${this.options.port} is already in use on ${this.options.host}: give each process its own OPS_PORT, or 0 for any free port`)
            : error,
        ),
      );
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : this.options.port;
    this.server = server;
    return this.port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeIdleConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function send(res: import('node:http').ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
