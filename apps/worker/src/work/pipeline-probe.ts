import { Inject, Injectable } from '@nestjs/common';
import type { WorkerConfig } from '@app/config';
import { NATS_CONNECTION, type NatsConnection } from '@app/nats';
import { WORKER_CONFIG } from '../worker.config.js';

/**
 * A timing hook for benchmarks, off unless WORKER_PROBE_SUBJECT is set. The clock is read first and
 * the message is only buffered (core NATS, no reply awaited), so the probe adds no wait to the job.
 * `process.hrtime` is the system's monotonic clock, so another process on the same machine can
 * subtract its own readings from it.
 */
@Injectable()
export class PipelineProbe {
  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {}

  pipelineBegins(jobId: string, attempt: number): void {
    const subject = this.config.WORKER_PROBE_SUBJECT;
    if (!subject) return;
    const hrtimeNs = process.hrtime.bigint().toString();
    this.nc.publish(subject, JSON.stringify({ jobId, attempt, workerId: this.config.WORKER_ID, hrtimeNs }));
  }
}
