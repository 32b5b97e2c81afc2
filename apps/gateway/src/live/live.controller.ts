import { Controller, Get, Inject, Logger, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { ErrorCode, jobIdSchema, type JobChange } from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import { ApiError } from '../http/api-error.js';
import { parseQuery } from '../http/query.js';
import { GATEWAY_CONFIG } from '../gateway.config.js';
import { GatewayMetrics } from '../ops/gateway.metrics.js';
import { JobFeed } from './job-feed.service.js';

const KEEPALIVE_MS = 15_000;
/** A client that reads slower than the feed writes is cut off past this much unsent data. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export const liveQuerySchema = z.strictObject({
  /** Only this job's changes. */
  job_id: jobIdSchema.optional(),
});

/**
 * `GET /v1/stream/jobs`: every job's changes as Server-Sent Events (`event: job`, `id:` the stream
 * sequence, `data:` a JobChange). The first event, `ready`, says the feed is live: a client that
 * loads its snapshot (GET /v1/jobs) after `ready` misses nothing, and can drop a change whose `seq`
 * is not above the row's `last_seq`. A comment every 15 s keeps proxies from closing the stream.
 */
@Controller('v1/stream')
export class LiveController {
  private readonly logger = new Logger(LiveController.name);

  constructor(
    private readonly feed: JobFeed,
    private readonly metrics: GatewayMetrics,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  @Get('jobs')
  async jobs(@Query() query: Record<string, unknown>, @Req() req: Request, @Res() res: Response): Promise<void> {
    const { job_id: only } = parseQuery(liveQuerySchema, query);
    let closed = false;
    let keepalive: NodeJS.Timeout | undefined;
    let unsubscribe: (() => void) | null = null;
    const end = () => {
      if (closed) return;
      closed = true;
      clearInterval(keepalive);
      unsubscribe?.();
      this.metrics.liveClients.dec();
      res.end();
    };
    const write = (chunk: string) => {
      if (closed) return;
      res.write(chunk);
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        this.logger.warn('live-feed client reads too slowly; closing its stream');
        end();
      }
    };
    try {
      unsubscribe = await this.feed.subscribe(
        {
          onChange: (change: JobChange) => {
            if (!only || change.job_id === only) write(`id: ${change.seq}\nevent: job\ndata: ${JSON.stringify(change)}\n\n`);
          },
          onClose: end,
        },
        this.config.RPC_TIMEOUT_MS,
      );
    } catch (error) {
      throw new ApiError(ErrorCode.ServiceUnavailable, error instanceof Error ? error.message : 'the live feed is not available', { 'Retry-After': '1' });
    }
    this.metrics.liveClients.inc();
    if (req.destroyed) return end();
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    req.socket.setNoDelay(true);
    write(`retry: 2000\nevent: ready\ndata: {}\n\n`);
    keepalive = setInterval(() => write(`: keep-alive\n\n`), KEEPALIVE_MS);
    req.on('close', end);
  }
}
