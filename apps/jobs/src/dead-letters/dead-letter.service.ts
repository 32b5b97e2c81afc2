import { Injectable, Logger } from '@nestjs/common';
import { ErrorCode, isWorkRequest, type JobFailed } from '@app/contracts';
import { workPhase } from '@app/job-state';
import { ConcurrencyError, EventStore } from '@app/event-store';
import { advisoryEventId, Clock } from '@app/runtime';
import type { MaxDeliveriesAdvisory } from './max-deliveries.advisory.js';

export type DeadLetterOutcome = 'dead-lettered' | 'already-ended' | 'not-a-job';

/** Appends race a worker that may still end the attempt; after this many refusals, something is wrong. */
const MAX_RACES = 5;

/**
 * Turns a MAX_DELIVERIES advisory into the job's final `JobFailed` (code MAX_DELIVERIES, with its
 * `deadLetter`), which is what puts the job on the dead-letter list. The append expects the job's
 * last lifecycle sequence, like every worker append, so a redelivered advisory, a second jobs
 * service, or a worker that finishes at the same moment can never give the job a second terminal
 * event: whoever appends first wins, and the others find the job ended.
 */
@Injectable()
export class DeadLetterService {
  private readonly logger = new Logger(DeadLetterService.name);

  constructor(
    private readonly store: EventStore,
    private readonly clock: Clock,
  ) {}

  async record(advisory: MaxDeliveriesAdvisory): Promise<DeadLetterOutcome> {
    const work = advisory.stream === this.store.streamName ? await this.store.bySeq(advisory.stream_seq) : null;
    if (!work?.ok || !isWorkRequest(work.stored.event)) {
      this.logger.warn({ stream: advisory.stream, seq: advisory.stream_seq, consumer: advisory.consumer }, 'MAX_DELIVERIES advisory for a message that is not a job submission; ignored');
      return 'not-a-job';
    }
    const request = work.stored.event;
    for (let race = 0; ; race++) {
      const last = await this.store.lastLifecycleEntry(request.jobId);
      const previous = last?.event ?? null;
      // Ended after this work request (a terminal event before it is what a redrive reopened).
      const phase = workPhase(last, work.stored.seq);
      // A deleted job is over for good, whatever work request comes after its deletion.
      if (phase.kind === 'ended' || phase.kind === 'deleted') return 'already-ended';
      const attempt = phase.attempt;
      const failed: JobFailed = {
        eventId: advisoryEventId(advisory.id),
        jobId: request.jobId,
        type: 'JobFailed',
        version: 3,
        occurredAt: this.clock.now().toISOString(),
        correlationId: request.correlationId,
        causationId: (previous ?? request).eventId,
        data: {
          attempt,
          final: true,
          error: {
            code: ErrorCode.MaxDeliveries,
            message: `the job was delivered ${advisory.deliveries} times (consumer "${advisory.consumer}") and no attempt finished: the worker crashed or hung each time`,
          },
          deadLetter: { reason: 'MAX_DELIVERIES', consumer: advisory.consumer, deliveries: advisory.deliveries, streamSeq: advisory.stream_seq },
          retryDelayMs: null,
        },
      };
      try {
        await this.store.append(failed, last?.seq ?? 0);
        this.logger.warn({ jobId: request.jobId, attempt, deliveries: advisory.deliveries, correlationId: request.correlationId }, 'job dead-lettered');
        return 'dead-lettered';
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || race >= MAX_RACES) throw error;
      }
    }
  }
}
