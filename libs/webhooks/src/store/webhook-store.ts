import type { DataSource } from 'typeorm';
import { openMigrated } from '@app/database';
import { CreateWebhooks1766000000000 } from './migrations/1766000000000-create-webhooks.js';
import { DeliveryTraceContext1766100000000 } from './migrations/1766100000000-delivery-trace-context.js';

export const WEBHOOK_STORE_MIGRATIONS = [CreateWebhooks1766000000000, DeliveryTraceContext1766100000000];

export interface WebhookStoreOptions {
  url: string;
  /** The webhooks schema (WEBHOOKS_DATABASE_SCHEMA, by default `<DATABASE_SCHEMA>_webhooks`). */
  schema: string;
  poolSize?: number;
}

/** Connects to the webhooks schema and runs its migrations (idempotent, under an advisory lock). */
export function openWebhookStore(options: WebhookStoreOptions): Promise<DataSource> {
  return openMigrated({
    url: options.url,
    schema: options.schema,
    poolSize: options.poolSize ?? 5,
    entities: [],
    migrations: WEBHOOK_STORE_MIGRATIONS,
    migrationsTableName: 'webhook_migrations',
    applicationName: 'framewire-webhooks',
  });
}
