import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, type JobSubjects, type WorkerInfo } from '@app/contracts';
import { isNatsUnavailableError, JOB_SUBJECTS, NatsAvailability, natsFailureMessage } from '@app/nats';
import { WorkerRegistry } from '@app/worker-registry';
import { ApiError } from '../http/api-error.js';

/** The live workers, from their heartbeats in the registry (entries expire when a worker stops beating). */
@Injectable()
export class WorkersService {
  constructor(
    private readonly registry: WorkerRegistry,
    private readonly nats: NatsAvailability,
    @Inject(JOB_SUBJECTS) private readonly subjects: JobSubjects,
  ) {}

  list(): Promise<WorkerInfo[]> {
    return this.read();
  }

  /** The seeds' health: alive when at least one worker's heartbeat is within its TTL. */
  async health(): Promise<{ alive: boolean; last_heartbeat: string | null; workers: number }> {
    const workers = await this.read();
    return { alive: workers.length > 0, last_heartbeat: workers[0]?.last_heartbeat ?? null, workers: workers.length };
  }

  /**
   * The registry's entries; a 503 that names the bucket and what failed when they cannot be read (on
   * a cluster, the bucket's servers down while NATS answers is not "NATS is unreachable").
   */
  private async read(): Promise<WorkerInfo[]> {
    try {
      return await this.registry.list();
    } catch (error) {
      if (!isNatsUnavailableError(error)) throw error;
      const cause = natsFailureMessage(error, this.nats.available);
      throw new ApiError(ErrorCode.ServiceUnavailable, `the workers' registry (KV bucket ${this.subjects.workersBucket}) cannot be read: ${cause}; try again shortly`, {
        'Retry-After': '1',
      });
    }
  }
}
