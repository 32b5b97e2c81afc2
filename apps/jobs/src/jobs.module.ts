import { type DynamicModule, Module } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { JobsConfig } from '@app/config';
import { EventStoreModule, NATS_CONNECTION, natsHealthCheck, type NatsConnection } from '@app/event-store';
import { createMetricsRegistry, HEALTH_CHECKS, LoggingModule, METRICS_REGISTRY, OPS_LISTEN, OpsListener, type PinoLogger } from '@app/observability';
import { postgresHealthCheck } from '@app/read-model';
import { JOBS_CONFIG } from './jobs.config.js';
import { JobsMetrics } from './ops/jobs.metrics.js';
import { JobProjector } from './projection/job.projector.js';
import { JobQueriesController } from './queries/job-queries.controller.js';
import { JobQueriesService } from './queries/job-queries.service.js';
import { READ_MODEL, ReadModelModule } from './read-model/read-model.module.js';

@Module({})
export class JobsModule {
  static forRoot(config: JobsConfig, logger: PinoLogger): DynamicModule {
    return {
      module: JobsModule,
      imports: [
        LoggingModule.forRoot(logger),
        EventStoreModule.forRoot({ natsUrl: config.NATS_URL, namespace: config.FRAMEWIRE_NAMESPACE, connectionName: 'framewire-jobs' }),
        ReadModelModule.forRoot({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA }),
      ],
      controllers: [JobQueriesController],
      providers: [
        { provide: JOBS_CONFIG, useValue: config },
        { provide: METRICS_REGISTRY, useFactory: () => createMetricsRegistry('jobs') },
        {
          provide: HEALTH_CHECKS,
          inject: [NATS_CONNECTION, READ_MODEL],
          useFactory: (nc: NatsConnection, ds: DataSource) => [natsHealthCheck(nc), postgresHealthCheck(ds)],
        },
        { provide: OPS_LISTEN, useValue: { host: config.OPS_HOST, port: config.OPS_PORT } },
        OpsListener,
        JobsMetrics,
        JobProjector,
        JobQueriesService,
      ],
    };
  }
}
