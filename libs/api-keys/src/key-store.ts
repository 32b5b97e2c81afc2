import type { DataSource } from 'typeorm';
import { openMigrated } from '@app/database';
import { ApiKeyRow } from './api-key.entity.js';
import { CreateApiKeys1765000000000 } from './migrations/1765000000000-create-api-keys.js';

export const KEY_STORE_MIGRATIONS = [CreateApiKeys1765000000000];

export interface KeyStoreOptions {
  url: string;
  /** The auth schema: its own, apart from the read model's (AUTH_DATABASE_SCHEMA, see @app/config). */
  schema: string;
  poolSize?: number;
}

/** Connects to the key store and runs its migrations (idempotent, under an advisory lock). */
export function openKeyStore(options: KeyStoreOptions): Promise<DataSource> {
  return openMigrated({
    url: options.url,
    schema: options.schema,
    poolSize: options.poolSize ?? 3,
    entities: [ApiKeyRow],
    migrations: KEY_STORE_MIGRATIONS,
    migrationsTableName: 'auth_migrations',
    applicationName: 'framewire-keys',
  });
}
