import { type DynamicModule, type MiddlewareConsumer, Module, type NestModule, RequestMethod } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ClientsModule, Transport } from '@nestjs/microservices';
import type { GatewayConfig } from '@app/config';
import { BlobStoreModule } from '@app/blob-store';
import { EventStoreModule } from '@app/event-store';
import { inboxPrefixOf, NATS_CONNECTION, natsClientOptions, natsHealthCheck, NatsModule, type NatsConnection } from '@app/nats';
import { WorkerRegistryModule } from '@app/worker-registry';
import { createMetricsRegistry, HEALTH_CHECKS, LoggingModule, METRICS_REGISTRY, type PinoLogger } from '@app/observability';
import { ToolCatalogModule } from '@app/tools';
import { Clock, IdGenerator, SystemClock, UuidV7Generator } from '@app/runtime';
import { ApiKeyAuthenticator } from './auth/api-key.authenticator.js';
import { AuthGuard } from './auth/auth.guard.js';
import { MediaLinks } from './auth/media-links.js';
import { ROUTE_ACCESS_TABLE, routeAccessOf } from './auth/route-access.table.js';
import { findDashboardDir } from './dashboard/dashboard-files.js';
import { DASHBOARD_DIR, DashboardStaticMiddleware } from './dashboard/dashboard.static.js';
import { GATEWAY_CONFIG } from './gateway.config.js';
import { GATEWAY_CONTROLLERS } from './gateway.controllers.js';
import { ApiExceptionFilter } from './http/api-exception.filter.js';
import { NatsAvailableGuard } from './http/nats-available.guard.js';
import { SecurityHeadersMiddleware } from './http/security-headers.js';
import { JobCommandsClient } from './jobs/job-commands.client.js';
import { JobQueriesClient } from './jobs/job-queries.client.js';
import { WebhooksClient } from './webhooks/webhooks.client.js';
import { SubmitJobService } from './jobs/submit-job.service.js';
import { ResumableUploadsService } from './resumable/resumable-uploads.service.js';
import { RateLimitGuard } from './limits/rate-limit.guard.js';
import { UploadSlots } from './limits/upload-slots.js';
import { AuthFailures } from './limits/auth-failures.js';
import { LiveStreamSlots } from './limits/live-stream-slots.js';
import { ClientAddresses } from './http/client-address.js';
import { JobFeed } from './live/job-feed.service.js';
import { GatewayMetrics } from './ops/gateway.metrics.js';
import { EVERY_PATH, HttpObservabilityMiddleware } from './ops/http-observability.middleware.js';
import { JOBS_RPC, JobsRpcClient } from './rpc/jobs-rpc.client.js';
import { JobFilesService } from './files/job-files.service.js';
import { JobMediaLinksService } from './files/job-media-links.service.js';
import { MEDIA_PATH_ROUTE, MediaCorsMiddleware } from './files/media-cors.middleware.js';
import { JobUpdatesService } from './live/job-updates.service.js';
import { JobUpdatesWebSocket } from './live/job-updates.ws.js';
import { VideoCompatService } from './seeds/video-compat.service.js';
import { WorkersService } from './workers/workers.service.js';

@Module({})
export class GatewayModule implements NestModule {
  static forRoot(config: GatewayConfig, logger: PinoLogger): DynamicModule {
    const identity = { user: config.NATS_USER, pass: config.NATS_PASSWORD, inboxPrefix: inboxPrefixOf('gateway') };
    return {
      module: GatewayModule,
      imports: [
        LoggingModule.forRoot(logger),
        NatsModule.forRoot({ natsUrl: config.NATS_URL, namespace: config.FRAMEWIRE_NAMESPACE, connectionName: 'framewire-gateway', identity }),
        // The gateway's NATS user may not create or change the stream: the jobs service owns it.
        EventStoreModule.forRoot({ stream: 'await', replicas: config.NATS_STREAM_REPLICAS }),
        BlobStoreModule.forRoot({ replicas: config.NATS_STREAM_REPLICAS }),
        // The gateway only lists the workers; the workers make the registry's bucket.
        WorkerRegistryModule.forRoot('bind'),
        ToolCatalogModule.forRoot(config.FRAMEWIRE_PLUGINS),
        ClientsModule.register([
          {
            name: JOBS_RPC,
            transport: Transport.NATS,
            options: {
              ...natsClientOptions(config.NATS_URL, identity),
              name: 'framewire-gateway-rpc',
              maxReconnectAttempts: -1,
              reconnectTimeWait: 250,
            },
          },
        ]),
      ],
      controllers: GATEWAY_CONTROLLERS,
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: ROUTE_ACCESS_TABLE, useFactory: () => routeAccessOf(GATEWAY_CONTROLLERS) },
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
        // Global guards run in this order: who is calling, then how often. A route is authenticated
        // unless it is marked @Public() (see auth/route-access.decorator.ts).
        { provide: APP_GUARD, useClass: AuthGuard },
        // One rate limiter, shared with the WebSocket handshake (which guards never see).
        { provide: APP_GUARD, useExisting: RateLimitGuard },
        RateLimitGuard,
        { provide: Clock, useClass: SystemClock },
        { provide: IdGenerator, useClass: UuidV7Generator },
        JobsRpcClient,
        ApiKeyAuthenticator,
        MediaLinks,
        UploadSlots,
        LiveStreamSlots,
        AuthFailures,
        ClientAddresses,
        { provide: METRICS_REGISTRY, useFactory: () => createMetricsRegistry('gateway') },
        { provide: HEALTH_CHECKS, inject: [NATS_CONNECTION], useFactory: (nc: NatsConnection) => [natsHealthCheck(nc)] },
        { provide: DASHBOARD_DIR, useFactory: () => findDashboardDir(config.DASHBOARD_DIR) },
        GatewayMetrics,
        JobQueriesClient,
        JobCommandsClient,
        WebhooksClient,
        NatsAvailableGuard,
        SubmitJobService,
        ResumableUploadsService,
        JobFeed,
        JobFilesService,
        JobMediaLinksService,
        JobUpdatesService,
        JobUpdatesWebSocket,
        WorkersService,
        VideoCompatService,
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(SecurityHeadersMiddleware, HttpObservabilityMiddleware, DashboardStaticMiddleware).forRoutes({ path: EVERY_PATH, method: RequestMethod.ALL });
    // After the security headers, whose Cross-Origin-Resource-Policy it opens for these files.
    consumer.apply(MediaCorsMiddleware).forRoutes({ path: MEDIA_PATH_ROUTE, method: RequestMethod.ALL });
  }
}
