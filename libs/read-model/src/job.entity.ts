import { Column, Entity, Index, PrimaryColumn, type ValueTransformer } from 'typeorm';

/** PostgreSQL bigint arrives as a string; stream sequences fit a JS number (2^53). */
export const bigintToNumber: ValueTransformer = {
  to: (value: number | null) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

/** One row per job: the read model the API serves. Written only by the projector. */
@Entity({ name: 'jobs' })
@Index('jobs_created_idx', ['createdAt', 'jobId'])
@Index('jobs_status_created_idx', ['status', 'createdAt', 'jobId'])
@Index('jobs_tenant_created_idx', ['tenant', 'createdAt', 'jobId'])
export class JobRow {
  @PrimaryColumn('uuid', { name: 'job_id' })
  jobId!: string;

  @Column('text')
  status!: string;

  @Column('text')
  tenant!: string;

  @Column('text')
  priority!: string;

  @Column('text')
  pipeline!: string;

  @Column('jsonb')
  params!: Record<string, unknown>;

  @Column('jsonb')
  video!: Record<string, unknown>;

  @Column('double precision')
  progress!: number;

  @Column('jsonb', { name: 'progress_detail', nullable: true })
  progressDetail!: Record<string, unknown> | null;

  @Column('integer')
  attempts!: number;

  @Column('text', { name: 'worker_id', nullable: true })
  workerId!: string | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt!: Date;

  @Column('timestamptz', { name: 'started_at', nullable: true })
  startedAt!: Date | null;

  @Column('timestamptz', { name: 'completed_at', nullable: true })
  completedAt!: Date | null;

  @Column('integer', { name: 'duration_ms', nullable: true })
  durationMs!: number | null;

  @Column('jsonb', { nullable: true })
  error!: { code: string; message: string } | null;

  @Column('jsonb', { nullable: true })
  result!: unknown;

  @Column('jsonb', { name: 'result_ref', nullable: true })
  resultRef!: Record<string, unknown> | null;

  @Column('jsonb')
  artifacts!: Array<Record<string, unknown>>;

  @Column('text', { name: 'correlation_id' })
  correlationId!: string;

  @Column('timestamptz', { name: 'cancel_requested_at', nullable: true })
  cancelRequestedAt!: Date | null;

  @Column('jsonb', { name: 'delete_request', nullable: true })
  deleteRequest!: Record<string, unknown> | null;

  @Column('timestamptz', { name: 'deleted_at', nullable: true })
  deletedAt!: Date | null;

  /** A split job's parts (JobState.split); null for a job run whole. */
  @Column('jsonb', { name: 'split', nullable: true })
  split!: Record<string, unknown> | null;

  /** The trace the job was submitted in (JobState.traceId); null when tracing was off for it. */
  @Column('text', { name: 'trace_id', nullable: true })
  traceId!: string | null;

  @Column('jsonb', { name: 'dead_letter', nullable: true })
  deadLetter!: Record<string, unknown> | null;

  @Column('bigint', { name: 'last_seq', transformer: bigintToNumber })
  lastSeq!: number;
}

/** How far a projection has folded the stream; written in the same transaction as the rows. */
@Entity({ name: 'projection_checkpoints' })
export class ProjectionCheckpoint {
  @PrimaryColumn('text')
  name!: string;

  @Column('bigint', { name: 'last_seq', transformer: bigintToNumber })
  lastSeq!: number;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt!: Date;

  /** The stream the model was projected from (see stream-identity.ts); null until the projector has looked. */
  @Column('text', { name: 'stream_name', nullable: true })
  streamName!: string | null;

  @Column('text', { name: 'stream_created', nullable: true })
  streamCreated!: string | null;
}
