import { Injectable, Logger } from '@nestjs/common';
import { attemptOf, isPartWork, isWorkRequest, type PartWork } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { runCommand } from '@app/job-commands';
import { advisoryEventId, Clock } from '@app/runtime';
import type { MaxDeliveriesAdvisory } from './max-deliveries.advisory.js';

/**
 * - `dead-lettered`: the job's final JobFailed MAX_DELIVERIES is stored;
 * - `already-ended`: the job ended (or was deleted) after that work message: nothing to add;
 * - `stale`: the message is older than the job's latest work request (a redrive), or an inert later
 *   submission: its run is not the job's;
 * - `unreadable`: the job's history holds an event this release cannot read: the advisory is left
 *   for a release that can;
 * - `not-a-job`: the advisory is not about a work request of this stream.
 */
export type DeadLetterOutcome = 'dead-lettered' | 'already-ended' | 'stale' | 'unreadable' | 'not-a-job';

/**
 * Turns a MAX_DELIVERIES advisory into the job's final `JobFailed` (code MAX_DELIVERIES, with its
 * `deadLetter`), which is what puts the job on the dead-letter list, as the decider decides it
 * (DeadLetter): the append expects the job's last sequence, like every append, so a
 * redelivered advisory, a second jobs service, or a worker that finishes at the same moment can never
 * give the job a second terminal event. The event id derives from the advisory's id.
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
    if (work?.ok && isPartWork(work.stored.event)) return this.recordPart(work.stored.event, work.stored.seq, advisory);
    if (!work?.ok || !isWorkRequest(work.stored.event)) {
      this.logger.warn({ stream: advisory.stream, seq: advisory.stream_seq, consumer: advisory.consumer }, 'MAX_DELIVERIES advisory for a message that is not a job submission; ignored');
      return 'not-a-job';
    }
    const request = work.stored.event;
    const stamp = { at: this.clock.now().toISOString(), nextId: () => advisoryEventId(advisory.id) };
    const outcome = await runCommand(
      this.store,
      { kind: 'DeadLetter', jobId: request.jobId, request, deliverySeq: work.stored.seq, exhausted: { consumer: advisory.consumer, deliveries: advisory.deliveries }, stamp },
    );
    if (outcome.kind === 'appended') {
      this.logger.warn({ jobId: request.jobId, attempt: attemptOf(outcome.stored[0].event), deliveries: advisory.deliveries, correlationId: request.correlationId }, 'job dead-lettered');
      return 'dead-lettered';
    }
    const { reason, seq } = outcome.decision;
    switch (reason) {
      case 'unreadable':
        this.logger.warn({ jobId: request.jobId, seq }, 'MAX_DELIVERIES advisory for a job whose history holds an event this release cannot read; left for a release that can');
        return 'unreadable';
      case 'stale':
      case 'not-first-submission':
        this.logger.log({ jobId: request.jobId, seq: work.stored.seq, reason }, "MAX_DELIVERIES advisory for a work message that is not the job's latest; skipped");
        return 'stale';
      default:
        return 'already-ended';
    }
  }

  /** A split job's part or join that no worker could finish: the job fails, as a dead letter. */
  private async recordPart(request: PartWork, seq: number, advisory: MaxDeliveriesAdvisory): Promise<DeadLetterOutcome> {
    const stamp = { at: this.clock.now().toISOString(), nextId: () => advisoryEventId(advisory.id) };
    const outcome = await runCommand(this.store, { kind: 'DeadLetterPart', jobId: request.jobId, request, deliverySeq: seq, exhausted: { consumer: advisory.consumer, deliveries: advisory.deliveries }, stamp });
    if (outcome.kind === 'appended') {
      this.logger.warn({ jobId: request.jobId, attempt: request.data.attempt, deliveries: advisory.deliveries, correlationId: request.correlationId }, 'split job dead-lettered: a part or its join ran out of deliveries');
      return 'dead-lettered';
    }
    if (outcome.decision.reason === 'unreadable') return 'unreadable';
    return outcome.decision.reason === 'stale' ? 'stale' : 'already-ended';
  }
}
