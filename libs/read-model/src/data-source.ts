import type { DataSource } from 'typeorm';
import { createPostgresDataSource, openMigrated, type PostgresOptions } from '@app/database';
import { JobRow, ProjectionCheckpoint } from './job.entity.js';
import { CreateReadModel1764000000000 } from './migrations/1764000000000-create-read-model.js';
import { ProgressAndArtifacts1764100000000 } from './migrations/1764100000000-progress-and-artifacts.js';
import { TenantAndPriority1764200000000 } from './migrations/1764200000000-tenant-and-priority.js';
import { DeadLetters1764300000000 } from './migrations/1764300000000-dead-letters.js';
import { Cancellation1764400000000 } from './migrations/1764400000000-cancellation.js';
import { Deletion1764500000000 } from './migrations/1764500000000-deletion.js';
import { ParkedEvents1764540000000 } from './migrations/1764540000000-parked-events.js';
import { StreamIdentity1764560000000 } from './migrations/1764560000000-stream-identity.js';
import { SplitJobs1764600000000 } from './migrations/1764600000000-split-jobs.js';
import { TraceId1764700000000 } from './migrations/1764700000000-trace-id.js';

export const READ_MODEL_ENTITIES = [JobRow, ProjectionCheckpoint];
export const READ_MODEL_MIGRATIONS = [CreateReadModel1764000000000, ProgressAndArtifacts1764100000000, TenantAndPriority1764200000000, DeadLetters1764300000000, Cancellation1764400000000, Deletion1764500000000, ParkedEvents1764540000000, StreamIdentity1764560000000, SplitJobs1764600000000, TraceId1764700000000];

export interface ReadModelOptions {
  url: string;
  schema: string;
  poolSize?: number;
}

function readModelOptions(options: ReadModelOptions): PostgresOptions {
  return {
    ...options,
    entities: READ_MODEL_ENTITIES,
    migrations: READ_MODEL_MIGRATIONS,
    migrationsTableName: 'migrations',
  };
}

/**
 * A TypeORM data source bound to one schema: every connection's search_path is that schema, so
 * migrations stay unqualified and several read models can share a database. Bound to the home
 * schema, entities read the views of the active model; bound to a model schema, it migrates it.
 */
export function createReadModelDataSource(options: ReadModelOptions): DataSource {
  return createPostgresDataSource(readModelOptions(options));
}

/** Opens a data source on `schema` after creating it if needed and running pending migrations under a lock. */
export function openMigratedReadModel(options: ReadModelOptions): Promise<DataSource> {
  return openMigrated(readModelOptions(options));
}
