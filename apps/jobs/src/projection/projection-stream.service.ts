import { Inject, Injectable, Logger } from '@nestjs/common';
import { EventStore, EventStreamSetup, type StreamIdentity, type StreamState } from '@app/event-store';
import { isStreamNotFound } from '@app/nats';
import type { HealthCheck } from '@app/observability';
import {
  adoptStreamIdentity,
  describeStreamMismatch,
  judgeStream,
  ProjectionRegistry,
  readModelStream,
  streamMismatchOf,
  type ReadModel,
  type StreamMismatch,
} from '@app/read-model';
import { READ_MODEL } from '../read-model/read-model.module.js';
import { ProjectionUpgradeService } from './projection-upgrade.service.js';

/** The active model was projected from another stream than the one there now (see judgeStream). */
export class StreamMismatchError extends Error {
  constructor(readonly mismatch: StreamMismatch) {
    super(describeStreamMismatch(mismatch));
    this.name = 'StreamMismatchError';
  }
}

/** The active model and the stream, found to belong together. */
export interface VerifiedStream {
  schema: string;
  checkpoint: number;
  identity: StreamIdentity;
  lastSeq: number;
}

/**
 * Knows whether the active read model was projected from the stream that is there now. PostgreSQL
 * and NATS keep their data apart: NATS may lose its stream (or `framewire start` switch to another
 * server) while PostgreSQL keeps the model, and the new stream's sequences start again at 1, below
 * the checkpoint. Each model records the stream it folds (its name and creation time) beside its
 * checkpoint; the projector asks `verify()` whenever its loop (re)starts.
 *
 * On a mismatch: one error line naming both streams and the checkpoint, `/health/ready` answers 503
 * with the check `stream` down until the switch, and the rebuild (ProjectionUpgrader, the path of a
 * version upgrade) builds a model from seq 1 of this stream and switches to it. The old model keeps
 * serving reads meanwhile and is kept as the previous model.
 *
 * The jobs service owns the stream: when it is gone, it is made again here (empty), so that the
 * gateway can take jobs again without a restart.
 */
@Injectable()
export class ProjectionStreamService {
  private readonly logger = new Logger(ProjectionStreamService.name);
  private mismatch: StreamMismatch | null = null;
  private reported: string | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly registry: ProjectionRegistry,
    @Inject(READ_MODEL) private readonly model: ReadModel,
    private readonly upgrades: ProjectionUpgradeService,
    private readonly setup: EventStreamSetup,
  ) {}

  /** The stream's identity and last sequence; the stream is made again if it does not exist. */
  async state(): Promise<StreamState> {
    try {
      return await this.store.streamState();
    } catch (error) {
      if (!isStreamNotFound(error)) throw error;
      this.logger.warn(`the event stream ${this.store.streamName} does not exist (deleted, or NATS lost its data): making it again`);
      await this.setup.ensure();
      return this.store.streamState();
    }
  }

  /**
   * Checks that the active model belongs to the stream; a model that records no stream yet adopts
   * this one (unless the stream ends below its checkpoint). Rejects with StreamMismatchError, after
   * reporting it and starting the rebuild, when they do not belong together.
   */
  async verify(): Promise<VerifiedStream> {
    const stream = await this.state();
    const active = await this.registry.active();
    let model = await readModelStream(this.model.ds, active.schema);
    if (judgeStream(model, stream).kind === 'adopt') model = await adoptStreamIdentity(this.model.ds, active.schema, stream.identity);
    const mismatch = streamMismatchOf(active.schema, model, stream);
    if (mismatch) {
      this.report(mismatch);
      void this.upgrades.rebuild();
      throw new StreamMismatchError(mismatch);
    }
    if (this.mismatch) this.logger.log(`the read model ${active.schema} is projected from the event stream again (created ${stream.identity.created}, checkpoint ${model.checkpoint})`);
    this.mismatch = null;
    return { schema: active.schema, checkpoint: model.checkpoint, identity: stream.identity, lastSeq: stream.lastSeq };
  }

  /** Readiness: down from the moment a mismatch is found until a model of this stream is active. */
  healthCheck(): HealthCheck {
    return {
      name: 'stream',
      check: async () => {
        const m = this.mismatch;
        if (m) throw new Error(`${describeStreamMismatch(m)}; rebuilding the read model from this stream (the old model serves reads until the switch)`);
      },
    };
  }

  /** One error line per mismatch, however often the projector finds it again while the rebuild runs. */
  private report(m: StreamMismatch): void {
    this.mismatch = m;
    const key = JSON.stringify([m.schema, m.stored, m.found, m.checkpoint]);
    if (this.reported === key) return;
    this.reported = key;
    this.logger.error(
      { stored: m.stored, found: m.found, checkpoint: m.checkpoint, lastSeq: m.lastSeq, model: m.schema, reason: m.reason },
      `${describeStreamMismatch(m)}; rebuilding the read model from this stream, the old model serves reads until the switch and is kept`,
    );
  }
}
