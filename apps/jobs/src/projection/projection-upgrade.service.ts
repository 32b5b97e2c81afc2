import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { JobsConfig } from '@app/config';
import { EventStore } from '@app/event-store';
import { ProjectionRegistry, type ReadModel } from '@app/read-model';
import { ProjectionUpgrader } from '@app/replay';
import { JOBS_CONFIG } from '../jobs.config.js';
import { OWN_PROJECTION_VERSION, READ_MODEL } from '../read-model/read-model.module.js';

/**
 * Runs the projection-version upgrade in the background when this instance's projection version is
 * newer than the active model's (see ProjectionUpgrader): reads and the live projector go on as
 * usual meanwhile.
 */
@Injectable()
export class ProjectionUpgradeService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ProjectionUpgradeService.name);
  private readonly upgrader: ProjectionUpgrader;

  constructor(
    @Inject(READ_MODEL) model: ReadModel,
    registry: ProjectionRegistry,
    store: EventStore,
    @Inject(OWN_PROJECTION_VERSION) version: number,
    @Inject(JOBS_CONFIG) config: JobsConfig,
  ) {
    this.upgrader = new ProjectionUpgrader({
      ds: model.ds,
      registry,
      store,
      version,
      batchSize: config.PROJECTOR_BATCH_SIZE,
      pollMs: config.PROJECTION_UPGRADE_POLL_MS,
      log: { info: (m) => this.logger.log(m), warn: (m) => this.logger.warn(m) },
    });
  }

  onApplicationBootstrap(): void {
    void this.upgrader.start();
  }

  /** Resolves when this instance's upgrade work is over (switched, not needed, or left to another instance that finished). */
  settled() {
    return this.upgrader.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.upgrader.stop();
  }
}
