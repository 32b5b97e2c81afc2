import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { JobsConfig } from '@app/config';
import { EventStore } from '@app/event-store';
import { BlobStore } from '@app/blob-store';
import type { JobSubjects } from '@app/contracts';
import { JOB_SUBJECTS, NATS_CONNECTION, type NatsConnection } from '@app/nats';
import { JobReadRepository, type ReadModel } from '@app/read-model';
import { Clock } from '@app/runtime';
import { JobCommandsService } from '../commands/job-commands.service.js';
import { JOBS_CONFIG } from '../jobs.config.js';
import { JobsMetrics } from '../ops/jobs.metrics.js';
import { READ_MODEL } from '../read-model/read-model.module.js';
import { QueryError } from '../rpc/rpc-answer.js';
import { liveUploadChunkSets } from './live-uploads.js';
import { garbageKind, parseObjectName, type GarbageKind, type OwnerState } from './object-names.js';

/** Jobs deleted per sweep and per cause at most; the next sweep goes on where this one stopped. */
const BATCH = 500;
/** Only one jobs-service instance sweeps at a time (a PostgreSQL advisory lock, per read-model schema). */
const LOCK_KEY = 'framewire-storage-sweep';

export interface SweepReport {
  /** False when another instance held the lock: this one did nothing. */
  ran: boolean;
  /** Deletions that had waited for a running attempt to stop, finished now. */
  pendingDeleted: number;
  /** Jobs deleted because their retention ran out. */
  retentionDeleted: number;
  /** Whether this sweep listed the bucket for garbage (at most once per STORAGE_GC_GRACE_MS). */
  surveyed: boolean;
  /** Objects removed as garbage, by why. */
  objects: Record<GarbageKind, number>;
  /** Chunk sets without an object (uploads cut off midway) purged, and their chunks. */
  orphanChunkSets: number;
  orphanChunks: number;
}

/**
 * The jobs service's periodic storage sweep, every STORAGE_SWEEP_INTERVAL_MS. It reads only durable
 * state (the read model, the stream, the bucket), so a restart loses nothing: what one sweep did not
 * reach, the next one finds. Each run first gives the bucket its size limit again (a bucket that
 * another service made again after NATS lost it has none), then:
 * 1. finishes pending deletions: jobs whose DELETE stopped a running attempt and that have ended since
 *    (the jobs service normally finishes these at once; this is the path after a crash or restart);
 * 2. deletes, through the same path as DELETE (reason `retention`), jobs that ended more than
 *    JOB_RETENTION_DAYS ago (when set);
 * 3. collects garbage older than STORAGE_GC_GRACE_MS: chunks of uploads cut off midway (no
 *    metadata; but not those of an unexpired resumable upload, whose chunks wait for their metadata
 *    until its last byte arrives: their nuids are read from the uploads KV bucket), uploads never submitted, and files of attempts that never ended (see garbageKind).
 *    This step lists the whole bucket, so it runs at most once per grace period (the first sweep
 *    after start, then whenever a grace period has passed since the last listing): nothing younger
 *    than that is garbage, and garbage goes between one and two grace periods after it was written.
 * Several instances may run: a PostgreSQL advisory lock lets one sweep at a time, and every step is
 * idempotent anyway (appends expect the last sequence; deleting what is gone is not an error).
 */
@Injectable()
export class StorageSweepService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(StorageSweepService.name);
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  /** When this instance last listed the bucket for garbage (by the clock), null before the first time. */
  private surveyedAt: number | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly blobs: BlobStore,
    private readonly jobs: JobReadRepository,
    private readonly commands: JobCommandsService,
    private readonly clock: Clock,
    private readonly metrics: JobsMetrics,
    @Inject(READ_MODEL) private readonly model: ReadModel,
    @Inject(JOBS_CONFIG) private readonly config: JobsConfig,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(JOB_SUBJECTS) private readonly subjects: JobSubjects,
  ) {}

  onApplicationBootstrap(): void {
    const tick = () => {
      this.running = this.sweep()
        .catch((error: unknown) => this.logger.error(`storage sweep failed, retrying next time: ${error instanceof Error ? error.message : String(error)}`))
        .finally(() => {
          this.running = null;
          if (this.timer) this.timer = setTimeout(tick, this.config.STORAGE_SWEEP_INTERVAL_MS).unref();
        });
    };
    this.timer = setTimeout(tick, this.config.STORAGE_SWEEP_INTERVAL_MS).unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One sweep, now (the timer calls it; tests call it with an injected clock). */
  async sweep(): Promise<SweepReport> {
    const report: SweepReport = { ran: false, pendingDeleted: 0, retentionDeleted: 0, surveyed: false, objects: { 'deleted-job': 0, 'unsubmitted-upload': 0, 'stale-attempt': 0 }, orphanChunkSets: 0, orphanChunks: 0 };
    const runner = this.model.ds.createQueryRunner();
    await runner.connect();
    try {
      const key = `${LOCK_KEY}:${this.config.DATABASE_SCHEMA}`;
      const [{ locked }] = (await runner.query(`SELECT pg_try_advisory_lock(hashtext($1)) AS locked`, [key])) as [{ locked: boolean }];
      if (!locked) return report;
      try {
        report.ran = true;
        await this.blobs.applySizeLimit();
        await this.finishPending(report);
        await this.applyRetention(report);
        await this.collectGarbage(report);
      } finally {
        await runner.query(`SELECT pg_advisory_unlock(hashtext($1))`, [key]);
      }
    } finally {
      await runner.release();
    }
    const removed = Object.values(report.objects).reduce((a, b) => a + b, 0);
    if (report.pendingDeleted + report.retentionDeleted + removed + report.orphanChunkSets > 0) {
      this.logger.log({ ...report, ran: undefined, surveyed: undefined }, 'storage sweep removed data');
    }
    return report;
  }

  private async finishPending(report: SweepReport): Promise<void> {
    for (const jobId of await this.jobs.pendingDeletions(BATCH)) {
      const outcome = await this.deleteJob(jobId, 'request');
      if (outcome === 'deleted') report.pendingDeleted += 1;
    }
  }

  private async applyRetention(report: SweepReport): Promise<void> {
    const days = this.config.JOB_RETENTION_DAYS;
    if (days === undefined) return;
    const cutoff = new Date(this.clock.now().getTime() - days * 86_400_000);
    for (const jobId of await this.jobs.endedBefore(cutoff, BATCH)) {
      const outcome = await this.deleteJob(jobId, 'retention');
      if (outcome === 'deleted') report.retentionDeleted += 1;
    }
  }

  /** One deletion through the DELETE path; a job that went away or moved on meanwhile is skipped. */
  private async deleteJob(jobId: string, reason: 'request' | 'retention'): Promise<'deleted' | 'deleting' | 'skipped'> {
    try {
      return (await this.commands.delete(jobId, { kind: 'all' }, null, reason)).status;
    } catch (error) {
      if (error instanceof QueryError) return 'skipped';
      this.logger.warn({ jobId, reason, err: error instanceof Error ? error.message : String(error) }, 'could not delete a job; the next sweep tries again');
      return 'skipped';
    }
  }

  private async collectGarbage(report: SweepReport): Promise<void> {
    const now = this.clock.now().getTime();
    if (this.surveyedAt !== null && now - this.surveyedAt < this.config.STORAGE_GC_GRACE_MS) return;
    const before = new Date(now - this.config.STORAGE_GC_GRACE_MS);
    const { objects, orphans: found } = await this.blobs.survey(before);
    // Read after the listing: an upload made since cannot have chunks older than the grace period.
    const live = found.length > 0 ? await liveUploadChunkSets(this.nc, this.subjects, new Date(now)) : new Set<string>();
    const orphans = found.filter((orphan) => !live.has(orphan.nuid));
    this.surveyedAt = now;
    report.surveyed = true;
    const parsed = objects.flatMap((entry) => {
      const object = entry.storedAt < before ? parseObjectName(entry.name) : null;
      return object ? [{ name: entry.name, object }] : [];
    });
    const owners = await this.owners([...new Set(parsed.map((p) => p.object.jobId))]);
    for (const { name, object } of parsed) {
      const kind = garbageKind(name, object, owners.get(object.jobId) ?? { kind: 'not-projected' });
      if (!kind) continue;
      if (await this.blobs.delete(name)) {
        report.objects[kind] += 1;
        this.metrics.objectsRemoved.inc({ kind });
      }
    }
    for (const orphan of orphans) {
      const purged = await this.blobs.purgeChunks(orphan.nuid);
      report.orphanChunkSets += 1;
      report.orphanChunks += purged;
      this.metrics.chunksPurged.inc();
    }
  }

  /** What the read model (or, for a job it does not have, the stream) says of each job. */
  private async owners(jobIds: string[]): Promise<Map<string, OwnerState>> {
    const owners = new Map<string, OwnerState>();
    for (let i = 0; i < jobIds.length; i += BATCH) {
      const chunk = jobIds.slice(i, i + BATCH);
      const records = await this.jobs.getMany(chunk);
      for (const jobId of chunk) {
        const record = records.get(jobId);
        if (record) owners.set(jobId, { kind: 'known', state: record.state });
        else owners.set(jobId, (await this.store.firstSubmission(jobId, 'leader')) ? { kind: 'not-projected' } : { kind: 'unknown' });
      }
    }
    return owners;
  }
}
