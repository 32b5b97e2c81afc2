import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { JobsConfig } from '@app/config';
import { EventStore } from '@app/event-store';
import { ProjectionRegistry, type ReadModel } from '@app/read-model';
import { ProjectionUpgrader } from '@app/replay';
import { JOBS_CONFIG } from '../jobs.config.js';
import { OWN_PROJECTION_VERSION, READ_MODEL } from '../read-model/read-model.module.js';

/**
 * Rebuilds the read model in the background when the active model does not fit this instance (see
 * ProjectionUpgrader): its projection version is older than this instance's, or it was projected
 * from another stream than the one there now. Reads go on as usual meanwhile. It looks at start, and
 * again whenever the projector finds the stream changed (`rebuild()`).
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
    void this.rebuild();
  }

  /**
   * Rebuilds and switches if the active model needs it, or joins the rebuild under way. Resolves when
   * this run is over (switched, not needed, or left to another instance that finished).
   */
  rebuild() {
    return this.upgrader.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.upgrader.stop();
  }
}
