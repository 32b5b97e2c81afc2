import { type DynamicModule, Module } from '@nestjs/common';
import type { JobSubjects } from '@app/contracts';
import { JOB_SUBJECTS, NATS_CONNECTION, START_UNAVAILABLE_MS, whileNatsUnavailable, type NatsConnection } from '@app/nats';
import { WorkerRegistry } from './worker-registry.js';

/**
 * The workers' registry of the namespace, on the service's NATS connection (NatsModule). `create`
 * creates its KV bucket, for the workers, whose NATS user is the one allowed to; `bind` reads it
 * without touching the server until it is used, for services that only list workers.
 */
@Module({})
export class WorkerRegistryModule {
  /** `replicas` (NATS_STREAM_REPLICAS): the bucket's copies on a cluster, when this service creates it. */
  static forRoot(mode: 'create' | 'bind', replicas = 1): DynamicModule {
    return {
      module: WorkerRegistryModule,
      global: true,
      providers: [
        {
          provide: WorkerRegistry,
          inject: [NATS_CONNECTION, JOB_SUBJECTS],
          // A restarted node of a cluster answers "no responders" for JetStream for a few seconds.
          useFactory: (nc: NatsConnection, subjects: JobSubjects) =>
            whileNatsUnavailable(() => (mode === 'create' ? WorkerRegistry.open(nc, subjects.workersBucket, { replicas }) : WorkerRegistry.bind(nc, subjects.workersBucket)), {
              timeoutMs: START_UNAVAILABLE_MS,
            }),
        },
      ],
      exports: [WorkerRegistry],
    };
  }
}
