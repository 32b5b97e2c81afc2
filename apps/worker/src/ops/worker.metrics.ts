import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { WorkerConfig } from '@app/config';
import { JOB_SECONDS_BUCKETS, METRICS_REGISTRY } from '@app/observability';
import { WORKER_CONFIG } from '../worker.config.js';

/**
 * A worker's metrics: jobs it finished by pipeline and outcome, how long jobs waited in the queue
 * before their first start, how long attempts ran, how busy its slots are, and how often it left a
 * job alone because it could not read the job's history. Every worker process
 * exposes its own; Prometheus sums them.
 */
@Injectable()
export class WorkerMetrics {
  readonly completed: Counter<'pipeline'>;
  readonly failed: Counter<'pipeline' | 'code' | 'final'>;
  readonly queueWait: Histogram<'pipeline'>;
  readonly runTime: Histogram<'pipeline' | 'outcome'>;
  readonly inFlight: Gauge;
  readonly unreadable: Counter;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry, @Inject(WORKER_CONFIG) config: WorkerConfig) {
    const registers = [registry];
    this.completed = new Counter({ name: 'framewire_jobs_completed_total', help: 'Jobs completed, by pipeline', labelNames: ['pipeline'], registers });
    this.failed = new Counter({
      name: 'framewire_jobs_failed_total',
      help: 'Failed attempts, by pipeline and error code; final="true" when the job failed for good',
      labelNames: ['pipeline', 'code', 'final'],
      registers,
    });
    this.queueWait = new Histogram({
      name: 'framewire_job_queue_wait_seconds',
      help: 'Enqueue to start: from VideoSubmitted to the first JobStarted, by pipeline',
      labelNames: ['pipeline'],
      buckets: JOB_SECONDS_BUCKETS,
      registers,
    });
    this.runTime = new Histogram({
      name: 'framewire_job_run_seconds',
      help: 'Run time of an attempt, from JobStarted to its terminal or retry event, by pipeline and outcome',
      labelNames: ['pipeline', 'outcome'],
      buckets: JOB_SECONDS_BUCKETS,
      registers,
    });
    this.unreadable = new Counter({
      name: 'framewire_worker_unreadable_jobs_total',
      help: 'Deliveries left alone because the job history holds an event this release cannot read (a newer release wrote it)',
      registers,
    });
    this.inFlight = new Gauge({ name: 'framewire_worker_in_flight', help: 'Jobs this worker is running now', registers });
    new Gauge({ name: 'framewire_worker_concurrency', help: 'Slots of this worker (WORKER_CONCURRENCY)', registers }).set(config.WORKER_CONCURRENCY);
  }
}
