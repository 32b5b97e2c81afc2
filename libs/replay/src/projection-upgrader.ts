import type { DataSource } from 'typeorm';
import type { EventStore, StreamIdentity, StreamState } from '@app/event-store';
import {
  adoptStreamIdentity,
  describeStreamMismatch,
  judgeStream,
  ProjectionWriter,
  readModelStream,
  sameStream,
  schemaTarget,
  type ParkedEvent,
  type ProjectionRegistry,
  streamMismatchOf,
  type StreamMismatch,
  type SwitchResult,
} from '@app/read-model';
import { abortableSleep, Backoff, retryLoop } from '@app/runtime';
import { catchUpFromStream, DEFAULT_REBUILD_BATCH, rebuildRange } from './rebuild.js';
import { guardedByStream, streamStillThere } from './stream-guard.js';

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
 * Why the active model must be replaced by one rebuilt from the stream: its projection version is
 * older than this process's, or it was projected from another stream than the one there now (or
 * from one that has lost messages it folded; see judgeStream).
 */
export type RebuildReason = { kind: 'version'; from: number; to: number } | ({ kind: 'stream' } & StreamMismatch);

export function describeRebuildReason(reason: RebuildReason): string {
  return reason.kind === 'version' ? `projection version ${reason.from} is older than ${reason.to}` : describeStreamMismatch(reason);
}

/**
 * Rebuilds the read model in the background and switches to it without downtime, when the active
 * model does not fit this process and this stream (see RebuildReason): a newer projection version,
 * or a stream that is not the one the model was projected from. One jobs-service instance (the one
 * that holds the rebuild's advisory lock) builds a model of its version from seq 1 of the stream into
 * its own schema, resuming a build that a stopped instance left for the same stream. The active
 * model keeps serving reads meanwhile. Once the build is within one batch of where it must be, the
 * registry switches to it in one transaction (see ProjectionRegistry.switchTo); the old model is
 * kept as the previous one. Other instances poll, and take over if the builder goes away.
 *
 * The target of a build: for a version upgrade on the same stream, the live checkpoint (the live
 * projector goes on writing the old model meanwhile); for a model of another stream, the stream's
 * last sequence (the live projector writes nothing meanwhile: the old model's checkpoint counts
 * another stream).
 *
 * The build tries every event again, parked ones included: an event that the new model can write
 * gets its row (and no parked entry there); one it cannot is parked there too, and the build goes on.
 */
export class ProjectionUpgrader {
  private readonly abort = new AbortController();
  private loop: Promise<SwitchResult | null> | null = null;

  constructor(private readonly options: ProjectionUpgraderOptions) {}

  /**
   * Starts in the background, or joins the run under way; resolves with the switch this instance
   * made, or null (nothing to rebuild, or another instance switched). Call it again whenever a
   * rebuild may have become needed: a run that has ended starts anew.
   */
  start(): Promise<SwitchResult | null> {
    this.loop ??= this.run().finally(() => {
      this.loop = null;
    });
    return this.loop;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  /** Why the active model must be rebuilt, or null when it fits this process and the stream. */
  async rebuildNeeded(stream?: StreamState): Promise<RebuildReason | null> {
    const { ds, registry, store, version } = this.options;
    const active = await registry.active();
    // A newer process owns a newer model; this one only reads it.
    if (active.version > version) return null;
    const now = stream ?? (await store.streamState());
    const mismatch = streamMismatchOf(active.schema, await readModelStream(ds, active.schema), now);
    if (mismatch) return { kind: 'stream', ...mismatch };
    if (active.version < version) return { kind: 'version', from: active.version, to: version };
    return null;
  }

  private async run(): Promise<SwitchResult | null> {
    const { registry, version, log } = this.options;
    const pollMs = this.options.pollMs ?? 2000;
    const signal = this.abort.signal;
    /** Set once the run has its answer: the switch it made, or null. */
    const outcome: { result?: SwitchResult | null } = {};
    await retryLoop(
      async (healthy) => {
        if (!(await this.rebuildNeeded())) {
          outcome.result = null;
          return;
        }
        const built = await registry.whileHolding(registry.rebuildLockKey(version), () => this.build());
        if (built) {
          outcome.result = built.value;
          return;
        }
        log.info(`another instance is rebuilding the read model (projection version ${version}); waiting`);
        healthy();
        await abortableSleep(pollMs, signal);
      },
      {
        signal,
        backoff: new Backoff(pollMs, 60_000),
        again: () => !('result' in outcome),
        onError: (error, delay) => log.warn(`read-model rebuild paused, retrying in ${delay} ms: ${error instanceof Error ? error.message : String(error)}`),
      },
    );
    return outcome.result ?? null;
  }

  /** Under the rebuild lock: builds and switches, or null when nothing is to be done (any more). */
  private async build(): Promise<SwitchResult | null> {
    const { ds, registry, store, version, log } = this.options;
    const batchSize = this.options.batchSize ?? DEFAULT_REBUILD_BATCH;
    // The previous holder may have finished while this instance waited for the lock.
    const stream = await store.streamState();
    const reason = await this.rebuildNeeded(stream);
    if (!reason) return null;
    const resumable = await this.resumableBuild(stream.identity);
    const schema = resumable ?? registry.newModelSchemaName(version);
    // Held while building, so that no instance's start collects the build as garbage meanwhile.
    const held = await registry.whileHolding(registry.buildLockKey(schema), async () => {
      if (!resumable) await registry.createBuild(version, 'upgrade', schema);
      const model = await adoptStreamIdentity(ds, schema, stream.identity);
      if (!model.identity || !sameStream(model.identity, stream.identity)) return null;
      log.info(
        `${resumable ? 'resuming' : 'building'} a read model of projection version ${version} in ${schema} from seq ${model.checkpoint + 1}, ` +
          `because ${describeRebuildReason(reason)}`,
      );
      const writer = new ProjectionWriter(ds, schemaTarget(schema), { cacheJobs: 200_000, startsEmpty: model.checkpoint === 0 });
      const apply = guardedByStream(store, stream.identity, (items, f, t) => writer.apply(items, f, t));
      // The build tries every event again, parked ones included; what it still cannot write is parked in the new model.
      const onParked = (p: ParkedEvent) =>
        log.warn(`read model ${schema}: parked ${p.type} at seq ${p.seq} of job ${p.jobId}: its row cannot be written (${p.code}: ${p.message})`);
      const started = Date.now();
      // Up to within one batch of the goal, outside any lock; the switch catches up the rest.
      let sameSource = false;
      for (;;) {
        this.abort.signal.throwIfAborted();
        const built = await writer.checkpoint();
        const now = await streamStillThere(store, stream.identity);
        const active = await registry.active();
        const live = await readModelStream(ds, active.schema);
        sameSource = judgeStream(live, now).kind !== 'other';
        const goal = sameSource ? live.checkpoint : now.lastSeq;
        if (goal - built <= batchSize) break;
        const toSeq = Math.max(goal, now.lastSeq);
        await rebuildRange({ store, apply, fromSeq: built + 1, toSeq, batchSize, onParked, signal: this.abort.signal });
      }
      const throughSeq = sameSource ? undefined : (await store.streamState()).lastSeq;
      const result = await registry.switchTo(schema, version, catchUpFromStream(store, ds, batchSize, { stream: stream.identity, onParked }), { throughSeq });
      log.info(
        `switched the read model to ${schema} (projection version ${version}, stream ${stream.identity.stream} created ${stream.identity.created}) ` +
          `at seq ${result.checkpoint} after ${((Date.now() - started) / 1000).toFixed(1)} s; the previous model ${result.from.schema} is kept`,
      );
      return result;
    });
    if (!held) throw new Error(`the build ${schema} is held by another process`);
    return held.value;
  }

  /** An unfinished build of this version and this stream to resume, or null; a build of another stream is dropped. */
  private async resumableBuild(identity: StreamIdentity): Promise<string | null> {
    const { ds, registry, version } = this.options;
    const found = await registry.findUpgradeBuild(version);
    if (!found) return null;
    const model = await readModelStream(ds, found);
    if (!model.identity || sameStream(model.identity, identity)) return found;
    await registry.dropBuild(found);
    return null;
  }
}
