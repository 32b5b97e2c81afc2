import { type DynamicModule, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { JobReadRepository, openReadModel, ProjectionWriter } from '@app/read-model';

export const READ_MODEL = Symbol('READ_MODEL');
export const PROJECTION_NAME = 'jobs';

@Injectable()
class ReadModelCloser implements OnApplicationShutdown {
  constructor(@Inject(READ_MODEL) private readonly ds: DataSource) {}
  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}

/** The PostgreSQL read model, migrated at startup (never synchronized). */
@Module({})
export class ReadModelModule {
  static forRoot(options: { url: string; schema: string }): DynamicModule {
    return {
      module: ReadModelModule,
      providers: [
        { provide: READ_MODEL, useFactory: () => openReadModel(options) },
        { provide: JobReadRepository, inject: [READ_MODEL], useFactory: (ds: DataSource) => new JobReadRepository(ds) },
        {
          provide: ProjectionWriter,
          inject: [READ_MODEL],
          useFactory: (ds: DataSource) => new ProjectionWriter(ds, PROJECTION_NAME),
        },
        ReadModelCloser,
      ],
      exports: [READ_MODEL, JobReadRepository, ProjectionWriter],
    };
  }
}
