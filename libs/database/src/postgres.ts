import { DataSource, type MigrationInterface } from 'typeorm';

export interface PostgresOptions {
  url: string;
  /** Every connection's search_path is this schema, so raw SQL and migrations stay unqualified. */
  schema: string;
  entities: Array<new () => object>;
  migrations: Array<new () => MigrationInterface>;
  /** Each store keeps its own migration history, so stores that share a database never see each other's. */
  migrationsTableName: string;
  poolSize?: number;
  applicationName?: string;
}

export function createPostgresDataSource(options: PostgresOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    schema: options.schema,
    entities: options.entities,
    migrations: options.migrations,
    migrationsTableName: options.migrationsTableName,
    synchronize: false,
    migrationsRun: false,
    logging: false,
    extra: {
      options: `-c search_path=${options.schema}`,
      // openMigrated holds one connection for its lock while the migrations run on another.
      max: Math.max(2, options.poolSize ?? 10),
      connectionTimeoutMillis: 5000,
      application_name: options.applicationName ?? 'framewire',
    },
  });
}

/**
 * Connects, creates the schema if needed and runs pending migrations under an advisory lock (one per
 * schema and store), so several instances starting at once migrate one after the other.
 */
export async function openMigrated(options: PostgresOptions): Promise<DataSource> {
  const ds = createPostgresDataSource(options);
  await ds.initialize();
  const lock = `framewire:migrate:${options.migrationsTableName}:${options.schema}`;
  const runner = ds.createQueryRunner();
  try {
    await runner.connect();
    await runner.query(`SELECT pg_advisory_lock(hashtext($1))`, [lock]);
    try {
      await runner.query(`CREATE SCHEMA IF NOT EXISTS "${options.schema}"`);
      await ds.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query(`SELECT pg_advisory_unlock(hashtext($1))`, [lock]);
    }
  } catch (error) {
    await runner.release();
    await ds.destroy();
    throw error;
  }
  await runner.release();
  return ds;
}
