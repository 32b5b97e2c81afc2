import { type DynamicModule, Module } from '@nestjs/common';
import type { JobsConfig } from '@app/config';
import { EventStoreModule } from '@app/event-store';
import { LoggingModule, type PinoLogger } from '@app/observability';
import { Clock, SystemClock } from '@app/runtime';
import { DeadLetterService } from './dead-letters/dead-letter.service.js';
import { MaxDeliveriesConsumer } from './dead-letters/max-deliveries.consumer.js';
import { JOBS_CONFIG } from './jobs.config.js';
import { JobProjector } from './projection/job.projector.js';
import { JobQueriesController } from './queries/job-queries.controller.js';
import { JobQueriesService } from './queries/job-queries.service.js';
import { ReadModelModule } from './read-model/read-model.module.js';

@Module({})
export class JobsModule {
  static forRoot(config: JobsConfig, logger: PinoLogger): DynamicModule {
    return {
      module: JobsModule,
      imports: [
        LoggingModule.forRoot(logger),
        EventStoreModule.forRoot({ natsUrl: config.NATS_URL, namespace: config.FRAMEWIRE_NAMESPACE, connectionName: 'framewire-jobs', replicas: config.NATS_STREAM_REPLICAS }),
        ReadModelModule.forRoot({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA }),
      ],
      controllers: [JobQueriesController],
      providers: [
        { provide: JOBS_CONFIG, useValue: config },
        { provide: Clock, useClass: SystemClock },
        JobProjector,
        JobQueriesService,
        DeadLetterService,
        MaxDeliveriesConsumer,
      ],
    };
  }
}
