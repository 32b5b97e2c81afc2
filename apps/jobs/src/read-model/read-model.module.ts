import { type DynamicModule, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { JobReadRepository, openReadModel, PROJECTION_VERSION, ProjectionRegistry, ProjectionWriter, type ReadModel } from '@app/read-model';

export const READ_MODEL = Symbol('READ_MODEL');
/** The projection version this process runs (PROJECTION_VERSION, overridable in tests). */
export const OWN_PROJECTION_VERSION = Symbol('OWN_PROJECTION_VERSION');

@Injectable()
class ReadModelCloser implements OnApplicationShutdown {
  constructor(@Inject(READ_MODEL) private readonly model: ReadModel) {}
  async onApplicationShutdown(): Promise<void> {
    await this.model.close();
  }
}

/**
 * The PostgreSQL read model, migrated at startup (never synchronized): reads go through the home
 * schema's views of the active model; the live writer locks the projection registry in each batch.
 */
@Module({})
export class ReadModelModule {
  static forRoot(options: { url: string; schema: string; version?: number }): DynamicModule {
    const version = options.version ?? PROJECTION_VERSION;
    return {
      module: ReadModelModule,
      providers: [
        { provide: OWN_PROJECTION_VERSION, useValue: version },
        { provide: READ_MODEL, useFactory: () => openReadModel({ url: options.url, schema: options.schema, version }) },
        { provide: ProjectionRegistry, inject: [READ_MODEL], useFactory: (model: ReadModel) => model.registry },
        { provide: JobReadRepository, inject: [READ_MODEL], useFactory: (model: ReadModel) => new JobReadRepository(model.ds) },
        {
          provide: ProjectionWriter,
          inject: [READ_MODEL],
          useFactory: (model: ReadModel) => new ProjectionWriter(model.ds, model.registry.liveTarget(version)),
        },
        ReadModelCloser,
      ],
      exports: [READ_MODEL, OWN_PROJECTION_VERSION, ProjectionRegistry, JobReadRepository, ProjectionWriter],
    };
  }
}
