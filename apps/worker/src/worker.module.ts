import { type DynamicModule, Module } from '@nestjs/common';
import type { WorkerConfig } from '@app/config';
import { EventStoreModule } from '@app/event-store';
import { LoggingModule, type PinoLogger } from '@app/observability';
import { Clock, IdGenerator, SystemClock, UuidV7Generator } from '@app/runtime';
import { FfprobeRunner } from './media/ffprobe.runner.js';
import { PIPELINES, type Pipeline } from './pipelines/pipeline.js';
import { PipelineRegistry } from './pipelines/pipeline.registry.js';
import { NoopPipeline } from './pipelines/noop/noop.pipeline.js';
import { ProbePipeline } from './pipelines/probe/probe.pipeline.js';
import { JobRunner } from './work/job-runner.service.js';
import { PipelineProbe } from './work/pipeline-probe.js';
import { WorkConsumer } from './work/work.consumer.js';
import { WORKER_CONFIG } from './worker.config.js';

@Module({})
export class WorkerModule {
  static forRoot(config: WorkerConfig, logger: PinoLogger): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        LoggingModule.forRoot(logger),
        EventStoreModule.forRoot({ natsUrl: config.NATS_URL, namespace: config.FRAMEWIRE_NAMESPACE, connectionName: `framewire-worker-${config.WORKER_ID}` }),
      ],
      providers: [
        { provide: WORKER_CONFIG, useValue: config },
        { provide: Clock, useClass: SystemClock },
        { provide: IdGenerator, useClass: UuidV7Generator },
        FfprobeRunner,
        ProbePipeline,
        NoopPipeline,
        { provide: PIPELINES, inject: [ProbePipeline, NoopPipeline], useFactory: (...pipelines: Pipeline[]) => pipelines },
        PipelineRegistry,
        PipelineProbe,
        JobRunner,
        WorkConsumer,
      ],
    };
  }
}
