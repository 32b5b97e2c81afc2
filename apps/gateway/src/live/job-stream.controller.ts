import { Controller, Get, Headers, Param, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { parseJobId } from '../http/query.js';
import { JobUpdatesService } from './job-updates.service.js';

const KEEPALIVE_MS = 15_000;

/**
 * Server-Sent Events of one job: `status` first (the snapshot), then `status`, `progress` and at last
 * `completed` or `failed`, after which the stream closes. Each event's id is the stream sequence it
 * reflects, so a client that reconnects with Last-Event-ID resumes without a gap.
 */
@Controller('v1/jobs')
export class JobStreamController {
  constructor(private readonly updates: JobUpdatesService) {}

  @Get(':id/stream')
  async stream(@Param('id') id: string, @Headers('last-event-id') lastEventId: string | undefined, @Req() req: Request, @Res() res: Response) {
    const snapshot = await this.updates.snapshot(parseJobId(id));
    const resumeAfter = lastEventId !== undefined && /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : undefined;
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    req.socket.setNoDelay(true);
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    try {
      res.write('retry: 2000\n\n');
      for await (const update of this.updates.follow(snapshot, abort.signal, resumeAfter)) {
        res.write(`id: ${update.seq}\nevent: ${update.kind}\ndata: ${JSON.stringify(update.data)}\n\n`);
      }
    } catch (error) {
      if (!abort.signal.aborted) res.write(`event: error\ndata: ${JSON.stringify({ error: { code: 'STREAM_FAILED', message: error instanceof Error ? error.message : String(error) } })}\n\n`);
    } finally {
      clearInterval(keepalive);
      res.end();
    }
  }
}
