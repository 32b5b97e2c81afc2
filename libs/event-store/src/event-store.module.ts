import { type DynamicModule, Module } from '@nestjs/common';
import type { JobSubjects } from '@app/contracts';
import { JOB_SUBJECTS, NATS_CONNECTION, type NatsConnection } from '@app/nats';
import { EventStore } from './event-store.js';
import { awaitEventStream, ensureEventStream, EventStreamSetup, type StreamOptions } from './stream-setup.js';
import { WorkQueue } from './work-queue/work-queue.js';

export interface EventStoreModuleOptions {
  /**
   * `ensure` (the default) creates or updates the event stream; `await` only waits for it to exist,
   * for services whose NATS user may not manage streams (the gateway).
   */
  stream?: 'ensure' | 'await';
  /** NATS_STREAM_REPLICAS: how many cluster nodes keep the streams. */
  replicas?: number;
  /**
   * The event stream's size limit in bytes, -1 for none (NATS_STREAM_MAX_BYTES): set by the jobs
   * service, which owns it; left out, it is left as it is.
   */
  streamMaxBytes?: number;
}

/**
 * The event log of the namespace, on the service's NATS connection (NatsModule): the EventStore once
 * the event stream exists (made or brought up to date here, or waited for), the stream's setup, and
 * the work queue (the workers' consumers of it).
 */
@Module({})
export class EventStoreModule {
  static forRoot(options: EventStoreModuleOptions = {}): DynamicModule {
    const streamOptions: StreamOptions = { replicas: options.replicas, maxBytes: options.streamMaxBytes };
    return {
      module: EventStoreModule,
      global: true,
      providers: [
        {
          provide: EventStore,
          inject: [NATS_CONNECTION, JOB_SUBJECTS],
          useFactory: async (nc: NatsConnection, subjects: JobSubjects) => {
            if (options.stream === 'await') await awaitEventStream(nc, subjects);
            else await ensureEventStream(nc, subjects, streamOptions);
            return new EventStore(nc, subjects);
          },
        },
        {
          provide: EventStreamSetup,
          inject: [NATS_CONNECTION, JOB_SUBJECTS],
          useFactory: (nc: NatsConnection, subjects: JobSubjects) => new EventStreamSetup(nc, subjects, streamOptions),
        },
        // After the EventStore, so that the stream exists before a worker makes its consumers.
        { provide: WorkQueue, inject: [NATS_CONNECTION, JOB_SUBJECTS, EventStore], useFactory: (nc: NatsConnection, subjects: JobSubjects) => new WorkQueue(nc, subjects) },
      ],
      exports: [EventStore, EventStreamSetup, WorkQueue],
    };
  }
}
