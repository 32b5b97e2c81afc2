import { Controller, Get, Headers, Param, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ErrorCode, type JobView } from '@app/contracts';
import { AcceptsMediaLink } from '../auth/route-access.decorator.js';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { errorBody } from '../http/api-exception.filter.js';
import { ClientAddresses } from '../http/client-address.js';
import { parseJobId } from '../http/route-params.js';
import { LiveStreamSlots } from '../limits/live-stream-slots.js';
import { JobUpdatesService } from './job-updates.service.js';
import { NatsAvailableGuard } from '../http/nats-available.guard.js';

const KEEPALIVE_MS = 15_000;
/** A client that reads slower than the job's events come is cut off past this much unsent data. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * Server-Sent Events of one job: `status` first (the snapshot), then `status`, `progress` and at last
 * `completed` or `failed`, after which the stream closes. Each event's id is the stream sequence it
 * reflects, so a client that reconnects with Last-Event-ID resumes without a gap. Another tenant's
 * job is 404. A browser's EventSource, which cannot send a key, may use the job's media link.
 *
 * Each stream takes one of its key's live-stream slots (LiveStreamSlots) for as long as it is open.
 * A Last-Event-ID past the job's last event is read as its last event (nothing of the job lies
 * beyond it); resuming a job that has ended from its end is 204 No Content, which tells an
 * EventSource to stop reconnecting, since nothing more will come.
 */
@Controller('v1/jobs')
@UseGuards(NatsAvailableGuard)
export class JobStreamController {
  constructor(
    private readonly updates: JobUpdatesService,
    private readonly slots: LiveStreamSlots,
    private readonly addresses: ClientAddresses,
  ) {}

  @Get(':id/stream')
  @AcceptsMediaLink()
  async stream(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    const jobId = parseJobId(id);
    const release = this.slots.acquire(principal, this.addresses.of(req), 'job_sse');
    try {
      const snapshot = await this.updates.snapshot(principal, jobId);
      const resumeAfter = resumePoint(lastEventId, snapshot);
      if (resumeAfter !== undefined && hasEnded(snapshot) && resumeAfter >= snapshot.last_seq) {
        res.status(204).end();
        return;
      }
      await this.send(snapshot, resumeAfter, req, res);
    } finally {
      release();
    }
  }

  private async send(snapshot: JobView, resumeAfter: number | undefined, req: Request, res: Response): Promise<void> {
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    // The client may have gone while the snapshot was read, before anyone listened for it.
    if (req.socket.destroyed) abort.abort();
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    req.socket.setNoDelay(true);
    const write = (chunk: string) => {
      res.write(chunk);
      if (res.writableLength > MAX_BUFFERED_BYTES) abort.abort();
    };
    // Also how a client that vanished without closing its connection is noticed: the write fails.
    const keepalive = setInterval(() => write(': keepalive\n\n'), KEEPALIVE_MS);
    try {
      write('retry: 2000\n\n');
      for await (const update of this.updates.follow(snapshot, abort.signal, resumeAfter)) {
        write(`id: ${update.seq}\nevent: ${update.kind}\ndata: ${JSON.stringify(update.data)}\n\n`);
      }
    } catch (error) {
      if (!abort.signal.aborted) write(`event: error\ndata: ${JSON.stringify(errorBody(ErrorCode.StreamFailed, error instanceof Error ? error.message : String(error)))}\n\n`);
    } finally {
      clearInterval(keepalive);
      res.end();
    }
  }
}

/**
 * Where a reconnecting client resumes: after its Last-Event-ID, but never past the job's last event
 * (an id beyond it names nothing of this job; following from there would wait for ever). A header
 * that is not a sequence number is ignored: the client gets the snapshot, as on a first connect.
 */
export function resumePoint(lastEventId: string | undefined, snapshot: Pick<JobView, 'last_seq'>): number | undefined {
  if (lastEventId === undefined || !/^\d{1,16}$/.test(lastEventId.trim())) return undefined;
  return Math.min(Number(lastEventId.trim()), snapshot.last_seq);
}

function hasEnded(snapshot: JobView): boolean {
  return snapshot.status === 'completed' || snapshot.status === 'failed' || snapshot.status === 'cancelled';
}
