import { type DynamicModule, Inject, Injectable, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { jobSubjects, type JobSubjects } from '@app/contracts';
import { BlobStore } from './blob-store.js';
import { EventStore } from './event-store.js';
import { connectNats, type NatsConnection, type NatsIdentity } from './nats-connection.js';
import { NatsAvailability } from './nats-availability.js';
import { awaitEventStream, ensureEventStream, EventStreamSetup, type StreamOptions } from './stream-setup.js';
import { WorkerRegistry } from './worker-registry.js';

export const NATS_CONNECTION = Symbol('NATS_CONNECTION');
export const JOB_SUBJECTS = Symbol('JOB_SUBJECTS');

export interface EventStoreModuleOptions {
  natsUrl: string;
  namespace: string;
  /** Shown in the server's connection list, e.g. `framewire-worker`. */
  connectionName: string;
  /** The service's NATS user and inbox prefix, when the server enforces permissions. */
  identity?: NatsIdentity;
  /**
   * `ensure` (the default) creates or updates the event stream; `await` only waits for it to exist,
   * for services whose NATS user may not manage streams (the gateway).
   */
  stream?: 'ensure' | 'await';
  /**
   * `bind` (the default) reads the workers' registry without touching the server until it is used;
   * `create` creates its KV bucket, for the workers, whose NATS user is the one allowed to.
   */
  workerRegistry?: 'create' | 'bind';
  /** NATS_STREAM_REPLICAS: how many cluster nodes keep the streams and the bucket. */
  replicas?: number;
  /**
   * Size limits of the event stream and the video bucket in bytes, -1 for none (NATS_STREAM_MAX_BYTES,
   * NATS_BUCKET_MAX_BYTES): set by the jobs service, which owns them; left out, they are left as they are.
   */
  streamMaxBytes?: number;
  bucketMaxBytes?: number;
}

/** Drains the connection last, after every consumer has stopped in its own shutdown hook. */
@Injectable()
class NatsConnectionCloser implements OnApplicationShutdown {
  private readonly logger = new Logger('Nats');
  constructor(@Inject(NATS_CONNECTION) private readonly nc: NatsConnection) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain().catch((error: unknown) => this.logger.warn(`drain failed: ${String(error)}`));
  }
}

@Module({})
export class EventStoreModule {
  static forRoot(options: EventStoreModuleOptions): DynamicModule {
    const subjects = jobSubjects(options.namespace);
    const streamOptions: StreamOptions = { replicas: options.replicas, maxBytes: options.streamMaxBytes };
    return {
      module: EventStoreModule,
      global: true,
      providers: [
        { provide: JOB_SUBJECTS, useValue: subjects },
        {
          provide: NATS_CONNECTION,
          useFactory: async () => {
            const nc = await connectNats(options.natsUrl, options.connectionName, options.identity);
            if (options.stream === 'await') await awaitEventStream(nc, subjects);
            else await ensureEventStream(nc, subjects, streamOptions);
            return nc;
          },
        },
        {
          provide: EventStore,
          inject: [NATS_CONNECTION],
          useFactory: (nc: NatsConnection) => new EventStore(nc, subjects),
        },
        {
          provide: BlobStore,
          inject: [NATS_CONNECTION],
          useFactory: (nc: NatsConnection) => BlobStore.open(nc, subjects.videoBucket, options.replicas, options.bucketMaxBytes),
        },
        { provide: NatsAvailability, inject: [NATS_CONNECTION], useFactory: (nc: NatsConnection) => new NatsAvailability(nc) },
        { provide: EventStreamSetup, inject: [NATS_CONNECTION], useFactory: (nc: NatsConnection) => new EventStreamSetup(nc, subjects, streamOptions) },
        {
          provide: WorkerRegistry,
          inject: [NATS_CONNECTION],
          useFactory: (nc: NatsConnection) =>
            options.workerRegistry === 'create' ? WorkerRegistry.open(nc, subjects.workersBucket) : WorkerRegistry.bind(nc, subjects.workersBucket),
        },
        NatsConnectionCloser,
      ],
      exports: [JOB_SUBJECTS, NATS_CONNECTION, EventStore, BlobStore, WorkerRegistry, NatsAvailability, EventStreamSetup],
    };
  }
}

export type { JobSubjects };
