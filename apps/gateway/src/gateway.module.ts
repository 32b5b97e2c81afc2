import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ClientsModule, Transport } from '@nestjs/microservices';
import type { GatewayConfig } from '@app/config';
import { EventStoreModule } from '@app/event-store';
import { ToolCatalogModule } from '@app/tools';
import { LoggingModule, type PinoLogger } from '@app/observability';
import { Clock, IdGenerator, SystemClock, UuidV7Generator } from '@app/runtime';
import { GATEWAY_CONFIG } from './gateway.config.js';
import { ApiExceptionFilter } from './http/api-exception.filter.js';
import { JobQueriesClient, JOBS_RPC } from './jobs/job-queries.client.js';
import { JobsController } from './jobs/jobs.controller.js';
import { SubmitJobService } from './jobs/submit-job.service.js';
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
export class GatewayModule {
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
      controllers: [JobsController, JobFilesController, JobStreamController, PipelinesController, WorkersController, VideoCompatController],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
        { provide: Clock, useClass: SystemClock },
        { provide: IdGenerator, useClass: UuidV7Generator },
        JobQueriesClient,
        SubmitJobService,
        JobFilesService,
        JobUpdatesService,
        JobUpdatesWebSocket,
        WorkersService,
        VideoCompatService,
      ],
    };
  }
}
