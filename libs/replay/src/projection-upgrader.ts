import type { DataSource } from 'typeorm';
import type { EventStore } from '@app/event-store';
import { ProjectionWriter, readCheckpoint, schemaTarget, type ParkedEvent, type ProjectionRegistry, type SwitchResult } from '@app/read-model';
import { catchUpFromStream, DEFAULT_REBUILD_BATCH, rebuildRange } from './rebuild.js';

export interface UpgraderLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface ProjectionUpgraderOptions {
  ds: DataSource;
  registry: ProjectionRegistry;
  store: EventStore;
  /** The projection version this process runs. */
  version: number;
  batchSize?: number;
  /** How often an instance that is not building looks whether the build is done or needs a new builder. */
  pollMs?: number;
  log: UpgraderLog;
}

/**
 * Upgrades the read model to this process's projection version without downtime. While the active
 * model has an older version, one jobs-service instance (the one that holds the upgrade's advisory
 * lock) builds the new version from seq 1 into its own schema, in the background, resuming a build
 * that a stopped instance left. The live model keeps serving reads meanwhile. Once the build is
 * within one batch of the live checkpoint, the registry switches to it in one transaction (see
 * ProjectionRegistry.switchTo) and every instance's live projector writes the new model from its
 * next batch. Other instances poll, and take over the build if its builder goes away.
 *
 * The build tries every event again, parked ones included: an event that the new version can write
 * gets its row (and no parked entry in the new model); one it cannot is parked there too, and the
 * build goes on.
 */
export class ProjectionUpgrader {
  private readonly abort = new AbortController();
  private loop: Promise<SwitchResult | null> | null = null;

  constructor(private readonly options: ProjectionUpgraderOptions) {}

  /** Starts in the background; resolves with the switch this instance made, or null. */
  start(): Promise<SwitchResult | null> {
    this.loop ??= this.run().catch((error: unknown) => {
      if (this.abort.signal.aborted) return null;
      this.options.log.warn(`projection upgrade stopped: ${error instanceof Error ? error.message : String(error)}`);
      return null;
    });
    return this.loop;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<SwitchResult | null> {
    const { registry, version, log } = this.options;
    for (;;) {
      if (this.abort.signal.aborted) return null;
      const active = await registry.active();
      if (active.version >= version) return null;
      const built = await registry.whileHolding(`framewire:upgrade:${registry.home}:${version}`, () => this.build(active.version));
      if (built) return built.value;
      log.info(`another instance is building projection version ${version}; waiting`);
      await sleep(this.options.pollMs ?? 2000, this.abort.signal);
    }
  }

  private async build(fromVersion: number): Promise<SwitchResult | null> {
    const { ds, registry, store, version, log } = this.options;
    const batchSize = this.options.batchSize ?? DEFAULT_REBUILD_BATCH;
    // The previous holder may have finished while this instance waited for the lock.
    if ((await registry.active()).version >= version) return null;
    const resumed = await registry.findUpgradeBuild(version);
    const schema = resumed ?? (await registry.createBuild(version, 'upgrade'));
    const startAt = await readCheckpoint(ds, schema);
    log.info(`${resumed ? 'resuming' : 'building'} projection version ${version} (active: ${fromVersion}) in ${schema} from seq ${startAt + 1}`);
    const writer = new ProjectionWriter(ds, schemaTarget(schema), { cacheJobs: 200_000, startsEmpty: startAt === 0 });
    const started = Date.now();
    const onParked = (p: ParkedEvent) =>
      log.warn(`projection version ${version}: parked ${p.type} at seq ${p.seq} of job ${p.jobId}: its row cannot be written (${p.code}: ${p.message})`);
    for (;;) {
      this.abort.signal.throwIfAborted();
      const built = await writer.checkpoint();
      const live = await readCheckpoint(ds, (await registry.active()).schema);
      if (live - built <= batchSize) break;
      const target = Math.max(live, await store.lastSeq());
      await rebuildRange({ store, apply: (items, f, t) => writer.apply(items, f, t), fromSeq: built + 1, toSeq: target, batchSize, onParked, signal: this.abort.signal });
    }
    const result = await registry.switchTo(schema, version, catchUpFromStream(store, ds, batchSize, onParked));
    log.info(
      `switched the read model to projection version ${version} (${schema}) at seq ${result.checkpoint} after ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    return result;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}
