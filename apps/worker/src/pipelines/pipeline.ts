/**
 * What a pipeline gets to work with for one attempt of one job. `I` is true for a pipeline that
 * reads its input (`needsInput`): only then is the video downloaded into a scratch directory.
 */
export interface PipelineContext<I extends boolean = true> {
  jobId: string;
  attempt: number;
  /** The uploaded video, downloaded to a local file (null when the pipeline does not read it). */
  inputPath: I extends true ? string : null;
  /** A scratch directory of this attempt, removed afterwards (null when the pipeline does not read the video). */
  workDir: I extends true ? string : null;
  params: Record<string, unknown>;
  /** Aborted when the attempt must stop (shutdown, lost ownership). */
  signal: AbortSignal;
}

/** A named unit of work over a video. Its result is JSON and lands in `JobCompleted`. */
export interface Pipeline {
  readonly name: string;
  /** False for a pipeline that never reads the video: the worker then neither downloads it nor makes a scratch directory. */
  readonly needsInput: boolean;
  run(ctx: PipelineContext<boolean>): Promise<Record<string, unknown>>;
}

export const PIPELINES = Symbol('PIPELINES');
