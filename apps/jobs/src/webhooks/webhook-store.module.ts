import { type DynamicModule, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { openWebhookStore, WebhookRepository } from '@app/webhooks';

export const WEBHOOK_STORE = Symbol('WEBHOOK_STORE');

@Injectable()
class WebhookStoreCloser implements OnApplicationShutdown {
  constructor(@Inject(WEBHOOK_STORE) private readonly ds: DataSource) {}
  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}

/** Webhook endpoints and deliveries in their own schema (migrated at startup), apart from the read model and the keys. */
@Module({})
export class WebhookStoreModule {
  static forRoot(options: { url: string; schema: string; poolSize: number }): DynamicModule {
    return {
      module: WebhookStoreModule,
      providers: [
        { provide: WEBHOOK_STORE, useFactory: () => openWebhookStore(options) },
        { provide: WebhookRepository, inject: [WEBHOOK_STORE], useFactory: (ds: DataSource) => new WebhookRepository(ds) },
        WebhookStoreCloser,
      ],
      exports: [WebhookRepository],
    };
  }
}
