import { type DynamicModule, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { ApiKeyRepository, openKeyStore } from '@app/api-keys';

export const KEY_STORE = Symbol('KEY_STORE');

@Injectable()
class KeyStoreCloser implements OnApplicationShutdown {
  constructor(@Inject(KEY_STORE) private readonly ds: DataSource) {}
  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}

/** The API keys in their own schema (migrated at startup), apart from the read model. */
@Module({})
export class KeyStoreModule {
  static forRoot(options: { url: string; schema: string }): DynamicModule {
    return {
      module: KeyStoreModule,
      providers: [
        { provide: KEY_STORE, useFactory: () => openKeyStore(options) },
        { provide: ApiKeyRepository, inject: [KEY_STORE], useFactory: (ds: DataSource) => new ApiKeyRepository(ds) },
        KeyStoreCloser,
      ],
      exports: [ApiKeyRepository],
    };
  }
}
