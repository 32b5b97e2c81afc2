import { type DynamicModule, Module } from '@nestjs/common';
import type { JobSubjects } from '@app/contracts';
import { JOB_SUBJECTS, NATS_CONNECTION, START_UNAVAILABLE_MS, whileNatsUnavailable, type NatsConnection } from '@app/nats';
import { BlobStore } from './blob-store.js';

export interface BlobStoreModuleOptions {
  /** NATS_STREAM_REPLICAS: how many cluster nodes keep the bucket. */
  replicas?: number;
  /**
   * The bucket's size limit in bytes, -1 for none (NATS_BUCKET_MAX_BYTES): set by the jobs service,
   * which owns it; left out, the bucket keeps the limit it has.
   */
  maxBytes?: number;
}

/** The video bucket of the namespace (opened, or created), on the service's NATS connection (NatsModule). */
@Module({})
export class BlobStoreModule {
  static forRoot(options: BlobStoreModuleOptions = {}): DynamicModule {
    return {
      module: BlobStoreModule,
      global: true,
      providers: [
        {
          provide: BlobStore,
          inject: [NATS_CONNECTION, JOB_SUBJECTS],
          // A restarted node of a cluster answers "no responders" for JetStream for a few seconds.
          useFactory: (nc: NatsConnection, subjects: JobSubjects) =>
            whileNatsUnavailable(() => BlobStore.open(nc, subjects.videoBucket, options.replicas, options.maxBytes), { timeoutMs: START_UNAVAILABLE_MS }),
        },
      ],
      exports: [BlobStore],
    };
  }
}
