import { hostname } from 'node:os';
import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { WorkerConfig } from '@app/config';
import type { WorkerInfo } from '@app/contracts';
import { WORKER_TTL_MS, WorkerRegistry } from '@app/worker-registry';
import { Clock } from '@app/runtime';
import { InFlightJobs } from '../work/in-flight-jobs.js';
import { WORKER_CONFIG } from '../worker.config.js';

/** The pipelines this worker can run, as the registry shows them. */
export const WORKER_PIPELINES = Symbol('WORKER_PIPELINES');

/**
 * Announces this worker in the registry (a KV bucket whose entries expire) and refreshes the entry
 * every third of its TTL, with the jobs it is running. A clean stop removes the entry; a killed
 * worker's entry expires by itself.
 */
@Injectable()
export class WorkerHeartbeat implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WorkerHeartbeat.name);
  private timer: NodeJS.Timeout | null = null;
  private startedAt = '';
  private beating: Promise<void> = Promise.resolve();

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly inFlight: InFlightJobs,
    private readonly clock: Clock,
    @Inject(WORKER_PIPELINES) private readonly pipelines: () => string[],
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.startedAt = this.clock.now().toISOString();
    // The first beat is not a condition of starting: like every later one, it may meet JetStream not
    // answering yet (a restarted node of a cluster), and the next beat comes a third of the TTL later.
    await this.beat().catch((error: unknown) => this.logger.warn(`first heartbeat failed: ${error instanceof Error ? error.message : String(error)}`));
    this.timer = setInterval(() => {
      this.beating = this.beat().catch((error: unknown) => this.logger.warn(`heartbeat failed: ${error instanceof Error ? error.message : String(error)}`));
    }, Math.floor(WORKER_TTL_MS / 3));
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.beating;
    await this.registry.remove(this.config.WORKER_ID);
  }

  /** The entry this worker writes now. */
  info(): WorkerInfo {
    return {
      worker_id: this.config.WORKER_ID,
      host: hostname(),
      pid: process.pid,
      concurrency: this.config.WORKER_CONCURRENCY,
      in_flight: this.inFlight.list(),
      pipelines: this.pipelines(),
      started_at: this.startedAt,
      last_heartbeat: this.clock.now().toISOString(),
    };
  }

  private async beat(): Promise<void> {
    await this.registry.announce(this.info());
  }
}
