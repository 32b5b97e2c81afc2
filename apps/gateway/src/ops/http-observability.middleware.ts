import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { requestCorrelationId, runWithCorrelation, traceApi, traceContext, tracingActive } from '@app/observability';
import { GatewayMetrics } from './gateway.metrics.js';
import { endRequestSpan, startRequestSpan } from './http-tracing.js';

/**
 * Every request runs in its correlation context (the id pino-http logs and X-Request-Id echoes),
 * so what the gateway logs or sends over NATS on its behalf carries the same id. When the response
 * is done, it is counted and timed under its route pattern (`/v1/jobs/:id`, never the raw path, so
 * ids do not explode the label set). With tracing on, the request is also a SERVER span
 * (http-tracing.ts), current for all of its handling, so that its upload and appends are its children
 * and its log lines carry its trace_id.
 */
@Injectable()
export class HttpObservabilityMiddleware implements NestMiddleware {
  constructor(private readonly metrics: GatewayMetrics) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const started = process.hrtime.bigint();
    const correlationId = requestCorrelationId(req as Request & { id?: unknown }, res);
    const traced = tracingActive() ? startRequestSpan(req, correlationId) : null;
    res.once('close', () => {
      const route = routeOf(req, res);
      const labels = { method: req.method, route, status: String(res.statusCode) };
      this.metrics.httpRequests.inc(labels);
      this.metrics.httpDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      if (traced) endRequestSpan(traced.span, req, res, route);
    });
    const handle = () => runWithCorrelation({ correlationId }, next);
    if (traced) traceContext.with(traceApi.setSpan(traced.parent, traced.span), handle);
    else handle();
  }
}

/** The path pattern the gateway's own middleware is mounted on: every path, `/` included. */
export const EVERY_PATH = '{*path}';

function routeOf(req: Request, res: Response): string {
  const route = (req as Request & { route?: { path?: unknown } }).route?.path;
  // A request that no controller answered still has a route: the middleware's own `/{*path}`.
  if (typeof route === 'string' && route !== `/${EVERY_PATH}`) return `${req.baseUrl ?? ''}${route}`;
  if (res.statusCode === 404) return 'unmatched';
  if (res.locals['route']) return String(res.locals['route']);
  return 'static';
}
