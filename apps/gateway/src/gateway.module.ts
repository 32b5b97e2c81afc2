import { type DynamicModule, type MiddlewareConsumer, Module, type NestModule, RequestMethod } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ClientsModule, Transport } from '@nestjs/microservices';
import type { GatewayConfig } from '@app/config';
import { EventStoreModule, NATS_CONNECTION, natsHealthCheck, type NatsConnection } from '@app/event-store';
import { createMetricsRegistry, HEALTH_CHECKS, LoggingModule, METRICS_REGISTRY, type PinoLogger } from '@app/observability';
import { ToolCatalogModule } from '@app/tools';
import { Clock, IdGenerator, SystemClock, UuidV7Generator } from '@app/runtime';
import { findDashboardDir } from './dashboard/dashboard-files.js';
import { DashboardController } from './dashboard/dashboard.controller.js';
import { DASHBOARD_DIR, DashboardStaticMiddleware } from './dashboard/dashboard.static.js';
import { DocsController } from './docs/docs.controller.js';
import { GATEWAY_CONFIG } from './gateway.config.js';
import { ApiExceptionFilter } from './http/api-exception.filter.js';
import { securityHeaders } from './http/security-headers.js';
import { JobQueriesClient, JOBS_RPC } from './jobs/job-queries.client.js';
import { JobsController } from './jobs/jobs.controller.js';
import { SubmitJobService } from './jobs/submit-job.service.js';
import { JobFeed } from './live/job-feed.service.js';
import { LiveController } from './live/live.controller.js';
import { GatewayMetrics } from './ops/gateway.metrics.js';
import { HttpObservabilityMiddleware } from './ops/http-observability.middleware.js';
import { OpsController } from './ops/ops.controller.js';
import { SystemController } from './system/system.controller.js';
import { JobFilesController } from './files/job-files.controller.js';
import { JobFilesService } from './files/job-files.service.js';
import { JobStreamController } from './live/job-stream.controller.js';
import { JobUpdatesService } from './live/job-updates.service.js';
import { JobUpdatesWebSocket } from './live/job-updates.ws.js';
import { PipelinesController } from './pipelines/pipelines.controller.js';
import { VideoCompatController } from './seeds/video-compat.controller.js';
import { VideoCompatService } from './seeds/video-compat.service.js';
import { WorkersController } from './workers/workers.controller.js';
import { WorkersService } from './workers/workers.service.js';

@Module({})
export class GatewayModule implements NestModule {
  static forRoot(config: GatewayConfig, logger: PinoLogger): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        LoggingModule.forRoot(logger),
        EventStoreModule.forRoot({ natsUrl: config.NATS_URL, namespace: config.FRAMEWIRE_NAMESPACE, connectionName: 'framewire-gateway' }),
        ToolCatalogModule.forRoot(config.FRAMEWIRE_PLUGINS),
        ClientsModule.register([
          {
            name: JOBS_RPC,
            transport: Transport.NATS,
            options: {
              servers: config.NATS_URL.split(','),
              name: 'framewire-gateway-rpc',
              maxReconnectAttempts: -1,
              reconnectTimeWait: 250,
            },
          },
        ]),
      ],
      controllers: [
        JobsController,
        JobFilesController,
        JobStreamController,
        PipelinesController,
        WorkersController,
        VideoCompatController,
        LiveController,
        SystemController,
        OpsController,
        DocsController,
        // Last: it answers the dashboard's own client-side routes.
        DashboardController,
      ],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
        { provide: Clock, useClass: SystemClock },
        { provide: IdGenerator, useClass: UuidV7Generator },
        { provide: METRICS_REGISTRY, useFactory: () => createMetricsRegistry('gateway') },
        { provide: HEALTH_CHECKS, inject: [NATS_CONNECTION], useFactory: (nc: NatsConnection) => [natsHealthCheck(nc)] },
        { provide: DASHBOARD_DIR, useFactory: () => findDashboardDir(config.DASHBOARD_DIR) },
        GatewayMetrics,
        JobQueriesClient,
        SubmitJobService,
        JobFeed,
        JobFilesService,
        JobUpdatesService,
        JobUpdatesWebSocket,
        WorkersService,
        VideoCompatService,
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    // `{*path}` matches every path, `/` included.
    consumer.apply(securityHeaders, HttpObservabilityMiddleware, DashboardStaticMiddleware).forRoutes({ path: '{*path}', method: RequestMethod.ALL });
  }
}
