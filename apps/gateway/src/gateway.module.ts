import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ClientsModule, Transport } from '@nestjs/microservices';
import type { GatewayConfig } from '@app/config';
import { EventStoreModule, inboxPrefixOf, natsClientOptions } from '@app/event-store';
import { LoggingModule, type PinoLogger } from '@app/observability';
import { Clock, IdGenerator, SystemClock, UuidV7Generator } from '@app/runtime';
import { ApiKeyAuthenticator } from './auth/api-key.authenticator.js';
import { AuthGuard } from './auth/auth.guard.js';
import { GATEWAY_CONFIG } from './gateway.config.js';
import { ApiExceptionFilter } from './http/api-exception.filter.js';
import { JobQueriesClient } from './jobs/job-queries.client.js';
import { JobsController } from './jobs/jobs.controller.js';
import { SubmitJobService } from './jobs/submit-job.service.js';
import { RateLimitGuard } from './limits/rate-limit.guard.js';
import { UploadSlots } from './limits/upload-slots.js';
import { JOBS_RPC, JobsRpcClient } from './rpc/jobs-rpc.client.js';

@Module({})
export class GatewayModule {
  static forRoot(config: GatewayConfig, logger: PinoLogger): DynamicModule {
    const identity = { user: config.NATS_USER, pass: config.NATS_PASSWORD, inboxPrefix: inboxPrefixOf('gateway') };
    return {
      module: GatewayModule,
      imports: [
        LoggingModule.forRoot(logger),
        EventStoreModule.forRoot({
          natsUrl: config.NATS_URL,
          namespace: config.FRAMEWIRE_NAMESPACE,
          connectionName: 'framewire-gateway',
          identity,
          // The gateway's NATS user may not create or change the stream: the jobs service owns it.
          stream: 'await',
        }),
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
      controllers: [JobsController],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
        // Global guards run in this order: who is calling, then how often. A route is authenticated
        // unless it is marked @Public() (see auth/route-access.decorator.ts).
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_GUARD, useClass: RateLimitGuard },
        { provide: Clock, useClass: SystemClock },
        { provide: IdGenerator, useClass: UuidV7Generator },
        JobsRpcClient,
        ApiKeyAuthenticator,
        UploadSlots,
        JobQueriesClient,
        SubmitJobService,
      ],
    };
  }
}
