import { Controller, Get, Inject, Logger, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { ErrorCode, inScope, jobIdSchema, scopeOf, type JobChange } from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { ApiError } from '../http/api-error.js';
import { ClientAddresses } from '../http/client-address.js';
import { parseQuery } from '../http/route-params.js';
import { LiveStreamSlots } from '../limits/live-stream-slots.js';
import { GATEWAY_CONFIG } from '../gateway.config.js';
import { GatewayMetrics } from '../ops/gateway.metrics.js';
import { JobFeed } from './job-feed.service.js';
import { NatsAvailableGuard } from '../http/nats-available.guard.js';

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
 * Each key sees the changes of its own tenant's jobs only (an admin key, every tenant's): the feed
 * tags every change with its job's tenant, and this route drops what the key may not see. Each
 * client takes one of its key's live-stream slots (LiveStreamSlots) until it goes.
 */
@Controller('v1/stream')
@UseGuards(NatsAvailableGuard)
export class LiveController {
  private readonly logger = new Logger(LiveController.name);

  constructor(
    private readonly feed: JobFeed,
    private readonly metrics: GatewayMetrics,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly slots: LiveStreamSlots,
    private readonly addresses: ClientAddresses,
  ) {}

  @Get('jobs')
  async jobs(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>, @Req() req: Request, @Res() res: Response): Promise<void> {
    const { job_id: only } = parseQuery(liveQuerySchema, query);
    const scope = scopeOf(principal);
    const visible = (change: JobChange) => (scope.kind === 'all' || (change.tenant !== null && inScope(scope, change.tenant))) && (!only || change.job_id === only);
    const release = this.slots.acquire(principal, this.addresses.of(req), 'live_feed');
    let closed = false;
    let keepalive: NodeJS.Timeout | undefined;
    let unsubscribe: (() => void) | null = null;
    const end = () => {
      if (closed) return;
      closed = true;
      clearInterval(keepalive);
      unsubscribe?.();
      release();
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
            if (visible(change)) write(`id: ${change.seq}\nevent: job\ndata: ${JSON.stringify(change)}\n\n`);
          },
          onClose: end,
        },
        this.config.RPC_TIMEOUT_MS,
      );
    } catch (error) {
      release();
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
