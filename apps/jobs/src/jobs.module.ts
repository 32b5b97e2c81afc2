import { type DynamicModule, Module } from '@nestjs/common';
import type { JobsConfig } from '@app/config';
import { BlobStoreModule } from '@app/blob-store';
import { EventStoreModule } from '@app/event-store';
import { inboxPrefixOf, NATS_CONNECTION, natsHealthCheck, NatsModule, type NatsConnection } from '@app/nats';
import { createMetricsRegistry, HEALTH_CHECKS, LoggingModule, METRICS_REGISTRY, OPS_LISTEN, OpsListener, type PinoLogger } from '@app/observability';
import { postgresHealthCheck, type ReadModel } from '@app/read-model';
import { Clock, IdGenerator, SystemClock, UuidV7Generator } from '@app/runtime';
import { JobCommandsController } from './commands/job-commands.controller.js';
import { JobCommandsService } from './commands/job-commands.service.js';
import { DeadLetterService } from './dead-letters/dead-letter.service.js';
import { JobObjectsService } from './deletion/job-objects.service.js';
import { StorageSweepService } from './deletion/storage-sweep.service.js';
import { MaxDeliveriesConsumer } from './dead-letters/max-deliveries.consumer.js';
import { JOBS_CONFIG } from './jobs.config.js';
import { KeyStoreModule } from './keys/key-store.module.js';
import { KeyVerificationController } from './keys/key-verification.controller.js';
import { KeyVerificationService } from './keys/key-verification.service.js';
import { JobsMetrics } from './ops/jobs.metrics.js';
import { JobProjector } from './projection/job.projector.js';
import { ProjectionStreamService } from './projection/projection-stream.service.js';
import { ProjectionUpgradeService } from './projection/projection-upgrade.service.js';
import { JobQueriesController } from './queries/job-queries.controller.js';
import { JobQueriesService } from './queries/job-queries.service.js';
import { READ_MODEL, ReadModelModule } from './read-model/read-model.module.js';
import { WebhookFanout } from './webhooks/webhook-fanout.consumer.js';
import { WebhookMetrics } from './webhooks/webhook.metrics.js';
import { WebhookSender } from './webhooks/webhook-sender.service.js';
import { WebhookStoreModule } from './webhooks/webhook-store.module.js';
import { WebhooksController } from './webhooks/webhooks.controller.js';
import { WebhooksService } from './webhooks/webhooks.service.js';

@Module({})
export class JobsModule {
  /** @param options.projectionVersion the projection version to run (tests simulate an upgrade with it) */
  static forRoot(config: JobsConfig, logger: PinoLogger, options: { projectionVersion?: number } = {}): DynamicModule {
    return {
      module: JobsModule,
      imports: [
        LoggingModule.forRoot(logger),
        NatsModule.forRoot({
          natsUrl: config.NATS_URL,
          namespace: config.FRAMEWIRE_NAMESPACE,
          connectionName: 'framewire-jobs',
          identity: { user: config.NATS_USER, pass: config.NATS_PASSWORD, inboxPrefix: inboxPrefixOf('jobs') },
        }),
        // The jobs service owns the stream and the storage limits: unset means none, and is applied as such.
        EventStoreModule.forRoot({ replicas: config.NATS_STREAM_REPLICAS, streamMaxBytes: config.NATS_STREAM_MAX_BYTES ?? -1 }),
        BlobStoreModule.forRoot({ replicas: config.NATS_STREAM_REPLICAS, maxBytes: config.NATS_BUCKET_MAX_BYTES ?? -1 }),
        ReadModelModule.forRoot({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, version: options.projectionVersion }),
        KeyStoreModule.forRoot({ url: config.DATABASE_URL, schema: config.AUTH_DATABASE_SCHEMA }),
        WebhookStoreModule.forRoot({ url: config.DATABASE_URL, schema: config.WEBHOOKS_DATABASE_SCHEMA, poolSize: 5 }),
      ],
      controllers: [JobQueriesController, JobCommandsController, KeyVerificationController, WebhooksController],
      providers: [
        { provide: JOBS_CONFIG, useValue: config },
        { provide: Clock, useClass: SystemClock },
        { provide: IdGenerator, useClass: UuidV7Generator },
        { provide: METRICS_REGISTRY, useFactory: () => createMetricsRegistry('jobs') },
        {
          provide: HEALTH_CHECKS,
          inject: [NATS_CONNECTION, READ_MODEL, ProjectionStreamService],
          useFactory: (nc: NatsConnection, model: ReadModel, streams: ProjectionStreamService) => [
            natsHealthCheck(nc),
            postgresHealthCheck(model.ds),
            streams.healthCheck(),
          ],
        },
        { provide: OPS_LISTEN, useValue: { host: config.OPS_HOST, port: config.OPS_PORT } },
        OpsListener,
        JobsMetrics,
        JobProjector,
        ProjectionStreamService,
        ProjectionUpgradeService,
        JobQueriesService,
        JobCommandsService,
        JobObjectsService,
        StorageSweepService,
        KeyVerificationService,
        DeadLetterService,
        MaxDeliveriesConsumer,
        WebhookMetrics,
        WebhookSender,
        WebhookFanout,
        WebhooksService,
      ],
    };
  }
}
