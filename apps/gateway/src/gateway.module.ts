import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ClientsModule, Transport } from '@nestjs/microservices';
import type { GatewayConfig } from '@app/config';
import { EventStoreModule } from '@app/event-store';
import { LoggingModule, type PinoLogger } from '@app/observability';
import { Clock, IdGenerator, SystemClock, UuidV7Generator } from '@app/runtime';
import { DeadLettersController } from './dead-letters/dead-letters.controller.js';
import { GATEWAY_CONFIG } from './gateway.config.js';
import { ApiExceptionFilter } from './http/api-exception.filter.js';
import { NatsAvailableGuard } from './http/nats-available.guard.js';
import { JobQueriesClient, JOBS_RPC } from './jobs/job-queries.client.js';
import { JobsController } from './jobs/jobs.controller.js';
import { SubmitJobService } from './jobs/submit-job.service.js';

@Module({})
export class GatewayModule {
  static forRoot(config: GatewayConfig, logger: PinoLogger): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        LoggingModule.forRoot(logger),
        EventStoreModule.forRoot({ natsUrl: config.NATS_URL, namespace: config.FRAMEWIRE_NAMESPACE, connectionName: 'framewire-gateway', replicas: config.NATS_STREAM_REPLICAS }),
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
      controllers: [JobsController, DeadLettersController],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
        { provide: Clock, useClass: SystemClock },
        { provide: IdGenerator, useClass: UuidV7Generator },
        JobQueriesClient,
        NatsAvailableGuard,
        SubmitJobService,
      ],
    };
  }
}
