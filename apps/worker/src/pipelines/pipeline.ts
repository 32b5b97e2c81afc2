/** What a pipeline gets to work with for one attempt of one job. */
export interface PipelineContext {
  jobId: string;
  attempt: number;
  /** The uploaded video, downloaded to a local file. */
  inputPath: string;
  /** A scratch directory of this attempt, removed afterwards. */
  workDir: string;
  params: Record<string, unknown>;
  /** Aborted when the attempt must stop (shutdown, lost ownership). */
  signal: AbortSignal;
}

/** A named unit of work over a video. Its result is JSON and lands in `JobCompleted`. */
export interface Pipeline {
  readonly name: string;
  /** False for a pipeline that never reads the video: the worker then does not download it. */
  readonly needsInput: boolean;
  run(ctx: PipelineContext): Promise<Record<string, unknown>>;
}

export const PIPELINES = Symbol('PIPELINES');
