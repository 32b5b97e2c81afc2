import { type DynamicModule, Module } from '@nestjs/common';
import type { WorkerConfig } from '@app/config';
import { BlobStoreModule } from '@app/blob-store';
import { EventStoreModule } from '@app/event-store';
import { inboxPrefixOf, NATS_CONNECTION, natsHealthCheck, NatsModule, type NatsConnection } from '@app/nats';
import { WorkerRegistryModule } from '@app/worker-registry';
import { createMetricsRegistry, HEALTH_CHECKS, LoggingModule, METRICS_REGISTRY, OPS_LISTEN, OpsListener, type PinoLogger } from '@app/observability';
import { Clock, IdGenerator, SystemClock, UuidV7Generator } from '@app/runtime';
import { ToolCatalog, ToolCatalogModule } from '@app/tools';
import { FfmpegRunner } from './media/ffmpeg.runner.js';
import { FfprobeRunner } from './media/ffprobe.runner.js';
import { WorkerMetrics } from './ops/worker.metrics.js';
import { WORKER_PIPELINES, WorkerHeartbeat } from './registry/worker-heartbeat.service.js';
import { InFlightJobs } from './work/in-flight-jobs.js';
import { JobRunner } from './work/job-runner.service.js';
import { PartRunner } from './work/part-runner.service.js';
import { SplitExecutor } from './work/split-executor.js';
import { PipelineProbe } from './work/pipeline-probe.js';
import { PipelineExecutor } from './work/pipeline-executor.service.js';
import { WorkConsumer } from './work/work.consumer.js';
import { WORKER_CONFIG } from './worker.config.js';

@Module({})
export class WorkerModule {
  static forRoot(config: WorkerConfig, logger: PinoLogger): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        LoggingModule.forRoot(logger),
        NatsModule.forRoot({
          natsUrl: config.NATS_URL,
          namespace: config.FRAMEWIRE_NAMESPACE,
          connectionName: `framewire-worker-${config.WORKER_ID}`,
          identity: { user: config.NATS_USER, pass: config.NATS_PASSWORD, inboxPrefix: inboxPrefixOf('worker') },
        }),
        EventStoreModule.forRoot({ stream: 'await', replicas: config.NATS_STREAM_REPLICAS }),
        BlobStoreModule.forRoot({ replicas: config.NATS_STREAM_REPLICAS }),
        // Workers announce themselves in the registry bucket, so they create it.
        WorkerRegistryModule.forRoot('create', config.NATS_STREAM_REPLICAS),
        ToolCatalogModule.forRoot(config.FRAMEWIRE_PLUGINS),
      ],
      providers: [
        { provide: WORKER_CONFIG, useValue: config },
        { provide: Clock, useClass: SystemClock },
        { provide: IdGenerator, useClass: UuidV7Generator },
        { provide: METRICS_REGISTRY, useFactory: () => createMetricsRegistry('worker') },
        { provide: HEALTH_CHECKS, inject: [NATS_CONNECTION], useFactory: (nc: NatsConnection) => [natsHealthCheck(nc)] },
        { provide: OPS_LISTEN, useValue: { host: config.OPS_HOST, port: config.OPS_PORT } },
        OpsListener,
        WorkerMetrics,
        FfprobeRunner,
        FfmpegRunner,
        { provide: WORKER_PIPELINES, inject: [ToolCatalog], useFactory: (catalog: ToolCatalog) => () => catalog.pipelineNames() },
        InFlightJobs,
        PipelineExecutor,
        PipelineProbe,
        JobRunner,
        SplitExecutor,
        PartRunner,
        WorkConsumer,
        WorkerHeartbeat,
      ],
    };
  }
}
