import type { z } from 'zod';
import type { ArtifactRef } from '@app/contracts';
import type { MediaLimits } from './media/media-limits.js';
import type { ProbeResult } from './media/probe-result.js';
import type { SplitSupport } from './split/split-support.js';

/**
 * The tool interface: what a built-in tool or a third-party plugin implements. A tool is one step
 * of a pipeline. It declares its params (validated at submit time, before anything is published)
 * and runs against a local copy of the video with everything it needs passed in its context.
 */
export interface Tool<S extends z.ZodObject = z.ZodObject> {
  /** Unique across all loaded tools: lower-case letters, digits and dashes. */
  readonly name: string;
  readonly version: string;
  readonly description: string;
  /** The params this tool reads. Pipelines merge the params of their tools; unknown keys are rejected. */
  readonly params: S;
  /** Wall-clock limit of one run; the run's AbortSignal fires when it passes. Default: TOOL_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  /**
   * False for a tool that never reads the video. When no tool of a pipeline reads it, the worker
   * neither downloads nor probes the upload, and `ctx.media` is null. Default: true.
   */
  readonly readsInput?: boolean;
  /**
   * False for a tool that writes no files: it gets no scratch directory (`ctx.workDir` is empty), and
   * a pipeline of such tools that reads no input creates none, saving the directory's creation and
   * removal on every job. Default: true.
   */
  readonly usesWorkDir?: boolean;
  run(ctx: ToolContext<z.output<S>>): Promise<ToolOutput>;
  /** Present when one long video may be encoded in parts on many workers and joined (see SplitSupport). */
  readonly split?: SplitSupport<z.output<S>>;
}

/** One sampled frame in a result. Tools that look at the same frame index are merged into one entry. */
export interface FrameOutput {
  frame_index: number;
  /** Seconds from the start of the video. */
  timestamp: number;
  [field: string]: unknown;
}

export interface ToolOutput {
  /** A small JSON summary, shown under `summary` and `tools.<name>.summary` of the job result. */
  summary: Record<string, unknown>;
  /** Per-frame outputs, merged by frame index across the pipeline's tools. */
  frames?: FrameOutput[];
  /** Anything else of note (scene list, stream metadata): `tools.<name>.data` of the result. */
  data?: Record<string, unknown>;
}

/** What the video is, read by ffprobe before the first tool runs. */
export interface MediaInfo {
  durationSec: number | null;
  /**
   * The container's start time (ffprobe's `format.start_time`, the earliest of its streams' first
   * timestamps): what ffmpeg takes from every timestamp of the file unless told to copy them. Null
   * or absent when unknown.
   */
  startSec?: number | null;
  /** The first audio stream's first timestamp (ffprobe's stream `start_time`); null or absent when unknown or without audio. */
  audioStartSec?: number | null;
  width: number;
  height: number;
  fps: number | null;
  /** Frames in the video stream (from the container, or counted); null when unknown. */
  frameCount: number | null;
  hasAudio: boolean;
  codec: string | null;
  /** Everything ffprobe said, in the API's shape (what the `probe` tool reports). */
  details: ProbeResult;
}

/** How far the current tool is. Calls are cheap: the runner throttles what reaches the log. */
export interface ProgressReporter {
  /**
   * The tool is at frame `current` of `total` (total null when unknown). `done`, from 0 to 1, is the
   * share of this tool's work that is finished; by default current / total.
   */
  frames(current: number, total: number | null, done?: number): void;
  /** A fraction from 0 to 1 of this tool's work, for tools that do not count frames. */
  fraction(done: number): void;
}

/** Writes files into the job's artifact folder in the Object Store. */
export interface ArtifactWriter {
  /** Uploads a local file under `name` (a plain file name; see artifactNameSchema). */
  putFile(name: string, path: string, contentType: string): Promise<ArtifactRef>;
}

/** Real ffmpeg and ffprobe, with the run's signal and timeout applied. */
export interface MediaTools {
  /**
   * Runs ffmpeg with `args` (without the binary). When `progress` is given, `-progress pipe:1
   * -nostats` is added and each progress block is passed on. Rejects with a ToolError whose code
   * is INVALID_MEDIA when ffmpeg cannot read the input, RESOURCE_LIMIT when it ran out of its memory
   * cap or died by a signal, TOOL_FAILED otherwise.
   *
   * The worker caps every run: `-threads FFMPEG_THREADS` before each input and output file (and
   * `-filter_threads`), FFMPEG_MEMORY_MB of address space, the tool's timeout. Read the upload as
   * `'-i', ctx.inputPath`: the worker puts its own input options right before that `-i` (the sniffed
   * container as `-f`, `-protocol_whitelist file,pipe`, `-enable_drefs 0` for MOV, and `-t` at the
   * duration limit unless the tool's own `-t` or `-to` for the upload reads no longer). A command that
   * names the upload any other way (`file:` URL, `movie=` filter, concat list) is refused.
   */
  ffmpeg(args: string[], options?: { onProgress?: (progress: FfmpegProgress) => void }): Promise<{ stderr: string; stdout: string }>;
}

/** One block of ffmpeg's `-progress` output. */
export interface FfmpegProgress {
  frame: number | null;
  /** Output time in seconds. */
  outTimeSec: number | null;
  speed: number | null;
  done: boolean;
}

export interface ToolContext<P = Record<string, unknown>> {
  jobId: string;
  attempt: number;
  /** The uploaded video as a local file. */
  inputPath: string;
  /** A scratch directory for this tool, removed after the attempt; empty for a tool with `usesWorkDir: false`. */
  workDir: string;
  /** This pipeline's params, already validated and defaulted. */
  params: P;
  /** What ffprobe found in the video; null only when no tool of the pipeline reads the input. */
  media: MediaInfo | null;
  progress: ProgressReporter;
  /** Fires on cancel, shutdown, lost ownership of the job, or the tool's timeout. */
  signal: AbortSignal;
  artifacts: ArtifactWriter;
  tools: MediaTools;
  /** Outputs of the tools that ran earlier in this pipeline, by tool name. */
  results: Readonly<Record<string, ToolOutput>>;
}

/** A named sequence of tools. */
export interface PipelineDefinition {
  readonly name: string;
  readonly description: string;
  readonly tools: readonly string[];
  /**
   * How many attempts a job of this pipeline gets before a transient failure is final. Default and
   * ceiling: the workers' WORKER_MAX_DELIVER (their consumer's max_deliver).
   */
  readonly maxAttempts?: number;
  /**
   * Tighter media limits for this pipeline's jobs (say, `{ maxDurationSec: 600 }` for a costly
   * one). Each applies only where it is below the workers' own (MEDIA_MAX_* variables): a pipeline
   * can never loosen them. A video over a limit fails with INPUT_TOO_LARGE before any tool runs.
   */
  readonly mediaLimits?: Partial<MediaLimits>;
}

/** What a plugin package exports as its default export. */
export interface FramewirePlugin {
  readonly name: string;
  readonly version: string;
  readonly tools: readonly Tool[];
  readonly pipelines: readonly PipelineDefinition[];
}

/** A tool's failure with a stable code. INVALID_MEDIA is permanent; anything else may be retried. */
export class ToolError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly permanent: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ToolError';
  }
}

export function defineTool<S extends z.ZodObject>(tool: Tool<S>): Tool<S> {
  return tool;
}

/** The media of a tool that reads its input (the runner always probes it for such a tool). */
export function mediaOf(ctx: ToolContext<unknown>): MediaInfo {
  if (!ctx.media) throw new ToolError('TOOL_FAILED', 'this tool reads the video, but the pipeline was run without it', false);
  return ctx.media;
}

export function definePlugin(plugin: FramewirePlugin): FramewirePlugin {
  return plugin;
}
