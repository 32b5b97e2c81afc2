import { type DynamicModule, Module } from '@nestjs/common';
import type { JobsConfig } from '@app/config';
import { EventStoreModule } from '@app/event-store';
import { LoggingModule, type PinoLogger } from '@app/observability';
import { JOBS_CONFIG } from './jobs.config.js';
import { JobProjector } from './projection/job.projector.js';
import { ProjectionUpgradeService } from './projection/projection-upgrade.service.js';
import { JobQueriesController } from './queries/job-queries.controller.js';
import { JobQueriesService } from './queries/job-queries.service.js';
import { ReadModelModule } from './read-model/read-model.module.js';

@Module({})
export class JobsModule {
  /** @param options.projectionVersion the projection version to run (tests simulate an upgrade with it) */
  static forRoot(config: JobsConfig, logger: PinoLogger, options: { projectionVersion?: number } = {}): DynamicModule {
    return {
      module: JobsModule,
      imports: [
        LoggingModule.forRoot(logger),
        EventStoreModule.forRoot({ natsUrl: config.NATS_URL, namespace: config.FRAMEWIRE_NAMESPACE, connectionName: 'framewire-jobs' }),
        ReadModelModule.forRoot({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, version: options.projectionVersion }),
      ],
      controllers: [JobQueriesController],
      providers: [{ provide: JOBS_CONFIG, useValue: config }, JobProjector, ProjectionUpgradeService, JobQueriesService],
    };
  }
}
