import { type DynamicModule, Inject, Injectable, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { jobSubjects, type JobSubjects } from '@app/contracts';
import { BlobStore } from './blob-store.js';
import { EventStore } from './event-store.js';
import { connectNats, type NatsConnection } from './nats-connection.js';
import { ensureEventStream } from './stream-setup.js';
import { WorkerRegistry } from './worker-registry.js';

export const NATS_CONNECTION = Symbol('NATS_CONNECTION');
export const JOB_SUBJECTS = Symbol('JOB_SUBJECTS');

export interface EventStoreModuleOptions {
  natsUrl: string;
  namespace: string;
  /** Shown in the server's connection list, e.g. `framewire-worker`. */
  connectionName: string;
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
    return {
      module: EventStoreModule,
      global: true,
      providers: [
        { provide: JOB_SUBJECTS, useValue: subjects },
        {
          provide: NATS_CONNECTION,
          useFactory: async () => {
            const nc = await connectNats(options.natsUrl, options.connectionName);
            await ensureEventStream(nc, subjects);
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
          useFactory: (nc: NatsConnection) => BlobStore.open(nc, subjects.videoBucket),
        },
        {
          provide: WorkerRegistry,
          inject: [NATS_CONNECTION],
          useFactory: (nc: NatsConnection) => WorkerRegistry.open(nc, subjects.workersBucket),
        },
        NatsConnectionCloser,
      ],
      exports: [JOB_SUBJECTS, NATS_CONNECTION, EventStore, BlobStore, WorkerRegistry],
    };
  }
}

export type { JobSubjects };
