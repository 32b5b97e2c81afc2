import { type DynamicModule, Inject, Injectable, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { jobSubjects } from '@app/contracts';
import { connectNats, type NatsConnection, type NatsIdentity } from './nats-connection.js';
import { NatsAvailability } from './nats-availability.js';
import { checkNatsServer } from './nats-server-requirement.js';

export const NATS_CONNECTION = Symbol('NATS_CONNECTION');
export const JOB_SUBJECTS = Symbol('JOB_SUBJECTS');

export interface NatsModuleOptions {
  natsUrl: string;
  namespace: string;
  /** Shown in the server's connection list, e.g. `framewire-worker`. */
  connectionName: string;
  /** The service's NATS user and inbox prefix, when the server enforces permissions. */
  identity?: NatsIdentity;
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

/**
 * Connects, then refuses a server too old or without JetStream (checkNatsServer) before any module
 * uses the connection: a service on such a server stops at start with that one line.
 */
async function connectCheckedNats(options: NatsModuleOptions): Promise<NatsConnection> {
  const nc = await connectNats(options.natsUrl, options.connectionName, options.identity);
  try {
    await checkNatsServer(nc);
    return nc;
  } catch (error) {
    await nc.close().catch(() => undefined);
    throw error;
  }
}

/**
 * A service's one NATS connection (NATS_CONNECTION), its namespace's subjects (JOB_SUBJECTS) and the
 * connection's availability, for every module that talks to NATS (the event store, the blob store,
 * the worker registry).
 */
@Module({})
export class NatsModule {
  static forRoot(options: NatsModuleOptions): DynamicModule {
    return {
      module: NatsModule,
      global: true,
      providers: [
        { provide: JOB_SUBJECTS, useValue: jobSubjects(options.namespace) },
        { provide: NATS_CONNECTION, useFactory: () => connectCheckedNats(options) },
        { provide: NatsAvailability, inject: [NATS_CONNECTION], useFactory: (nc: NatsConnection) => new NatsAvailability(nc) },
        NatsConnectionCloser,
      ],
      exports: [JOB_SUBJECTS, NATS_CONNECTION, NatsAvailability],
    };
  }
}

