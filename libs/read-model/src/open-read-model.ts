import type { DataSource } from 'typeorm';
import { createReadModelDataSource, type ReadModelOptions } from './data-source.js';
import { PROJECTION_VERSION, ProjectionRegistry } from './projection-registry.js';

export interface ReadModel {
  /** Bound to the home schema, whose views show the active model. */
  ds: DataSource;
  registry: ProjectionRegistry;
  close(): Promise<void>;
}

/**
 * Connects to the home schema and makes sure it has an active model (see ProjectionRegistry.ensure),
 * migrated to the latest migration. Several instances starting at once do this one after the other.
 */
export async function openReadModel(options: ReadModelOptions & { version?: number }): Promise<ReadModel> {
  const ds = createReadModelDataSource(options);
  await ds.initialize();
  const registry = new ProjectionRegistry(ds, options.schema, options.url);
  try {
    await registry.ensure(options.version ?? PROJECTION_VERSION);
  } catch (error) {
    await ds.destroy();
    throw error;
  }
  return { ds, registry, close: async () => void (ds.isInitialized && (await ds.destroy())) };
}
