import { DataSource } from 'typeorm';
import { JobRow, ProjectionCheckpoint } from './job.entity.js';
import { CreateReadModel1764000000000 } from './migrations/1764000000000-create-read-model.js';
import { ProgressAndArtifacts1764100000000 } from './migrations/1764100000000-progress-and-artifacts.js';
import { TenantAndPriority1764200000000 } from './migrations/1764200000000-tenant-and-priority.js';

export const READ_MODEL_ENTITIES = [JobRow, ProjectionCheckpoint];
export const READ_MODEL_MIGRATIONS = [CreateReadModel1764000000000, ProgressAndArtifacts1764100000000, TenantAndPriority1764200000000];

export interface ReadModelOptions {
  url: string;
  schema: string;
  poolSize?: number;
}

/**
 * A TypeORM data source bound to one schema: every connection's search_path is that schema, so
 * migrations stay unqualified and several read models can share a database. Bound to the home
 * schema, entities read the views of the active model; bound to a model schema, it migrates it.
 */
export function createReadModelDataSource(options: ReadModelOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    schema: options.schema,
    entities: READ_MODEL_ENTITIES,
    migrations: READ_MODEL_MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    extra: {
      options: `-c search_path=${options.schema}`,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: 5000,
      application_name: 'framewire',
    },
  });
}

