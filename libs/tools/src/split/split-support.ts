import type { ToolContext, ToolOutput } from '../tool.js';

/**
 * One part of a split job: the video from `start` (the time of a key frame, in seconds of the
 * source's timeline) up to `end` (the next part's start), or to the end of the video when `end` is
 * null. Every frame of the source belongs to exactly one part.
 */
export interface SplitPart {
  index: number;
  start: number;
  end: number | null;
}

/** A part's outputs as the join gets them: each artifact the part wrote, downloaded to a local file. */
export interface JoinPart {
  index: number;
  /** Artifact name → local path. */
  files: ReadonlyMap<string, string>;
}

/**
 * What a tool implements to let one long video be encoded by many workers (issue #19): the worker
 * cuts the video at key frames (findCutPoints), runs `runPart` for each part on whichever worker
 * claims it, and once every part is done runs `join` on one worker. Only the video is encoded in
 * parts; the join takes the audio from the source, encoded once, so it stays in sync.
 */
export interface SplitSupport<P = Record<string, unknown>> {
  /**
   * The split length the params ask for, in seconds, or null when the job is not to be split.
   */
  splitSeconds(params: P): number | null;
  /**
   * Encodes part `part` of `ctx.inputPath` (video only) into files under `ctx.workDir` and uploads
   * them with `ctx.artifacts.putFile`, named with partArtifactName so that they never clash with the
   * join's outputs or another part's. Progress is reported through `ctx.progress` as for `run`.
   */
  runPart(ctx: ToolContext<P>, part: SplitPart): Promise<void>;
  /**
   * Joins the parts' outputs (all of them, in index order, as local files) with the audio of
   * `ctx.inputPath` (or with that audio as a part already encoded it), without encoding the video again, uploads the final artifacts with
   * `ctx.artifacts.putFile` and returns what `run` returns for the same params, so that a split job's
   * result has the same shape as an unsplit one.
   */
  join(ctx: ToolContext<P>, parts: readonly JoinPart[]): Promise<ToolOutput>;
}

/** The name of a part's artifact: `part-0007-<name>`. */
export function partArtifactName(index: number, name: string): string {
  return `part-${String(index).padStart(4, '0')}-${name}`;
}
