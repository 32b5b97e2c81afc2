import { DataSource } from 'typeorm';
import { JobRow, ProjectionCheckpoint } from './job.entity.js';
import { CreateReadModel1764000000000 } from './migrations/1764000000000-create-read-model.js';
import { ProgressAndArtifacts1764100000000 } from './migrations/1764100000000-progress-and-artifacts.js';
import { TenantAndPriority1764200000000 } from './migrations/1764200000000-tenant-and-priority.js';
import { DeadLetters1764300000000 } from './migrations/1764300000000-dead-letters.js';

export const READ_MODEL_ENTITIES = [JobRow, ProjectionCheckpoint];
export const READ_MODEL_MIGRATIONS = [CreateReadModel1764000000000, ProgressAndArtifacts1764100000000, TenantAndPriority1764200000000, DeadLetters1764300000000];

export interface ReadModelOptions {
  url: string;
  schema: string;
  poolSize?: number;
}

/**
 * A TypeORM data source bound to one schema: every connection's search_path is that schema, so
 * raw SQL and migrations stay unqualified and several read models can share a database.
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

/**
 * Connects, creates the schema if needed and runs pending migrations under an advisory lock, so
 * several instances starting at once migrate one after the other.
 */
export async function openReadModel(options: ReadModelOptions): Promise<DataSource> {
  const ds = createReadModelDataSource(options);
  await ds.initialize();
  const runner = ds.createQueryRunner();
  try {
    await runner.connect();
    await runner.query(`SELECT pg_advisory_lock(hashtext('framewire:migrate:' || $1))`, [options.schema]);
    try {
      await runner.query(`CREATE SCHEMA IF NOT EXISTS "${options.schema}"`);
      await ds.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query(`SELECT pg_advisory_unlock(hashtext('framewire:migrate:' || $1))`, [options.schema]);
    }
  } catch (error) {
    await runner.release();
    await ds.destroy();
    throw error;
  }
  await runner.release();
  return ds;
}
