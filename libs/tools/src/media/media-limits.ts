import type { FfprobeOutput } from './probe-result.js';
import { rate } from './probe-result.js';

/**
 * How large a video a worker takes on. The installation sets them (MEDIA_MAX_* variables); a
 * pipeline may tighten any of them for its own jobs (PipelineDefinition.mediaLimits), never loosen.
 */
export interface MediaLimits {
  /** Seconds of the longest stream. */
  maxDurationSec: number;
  /** Width × height of the largest video stream. */
  maxPixels: number;
  /** Frames per second of any video stream (see mediaFigures for which figure is trusted). */
  maxFps: number;
  /** Frames of any video stream. */
  maxFrames: number;
  /** Streams in the file, of every kind. */
  maxStreams: number;
}

export type MediaLimitName = keyof MediaLimits;

export const MEDIA_LIMIT_NAMES: readonly MediaLimitName[] = ['maxDurationSec', 'maxPixels', 'maxFps', 'maxFrames', 'maxStreams'];

/** The environment variable of each limit, for messages that say where to change it. */
export const MEDIA_LIMIT_VARIABLES: Record<MediaLimitName, string> = {
  maxDurationSec: 'MEDIA_MAX_DURATION_SEC',
  maxPixels: 'MEDIA_MAX_PIXELS',
  maxFps: 'MEDIA_MAX_FPS',
  maxFrames: 'MEDIA_MAX_FRAMES',
  maxStreams: 'MEDIA_MAX_STREAMS',
};

/** What the limits are compared with, from ffprobe's output; null where the file does not say. */
export interface MediaFigures {
  durationSec: number | null;
  /** The largest video stream, as width × height. */
  width: number;
  height: number;
  fps: number | null;
  frameCount: number | null;
  streamCount: number;
}

/** The limits a pipeline runs under: the installation's, each tightened where the pipeline asks. */
export interface EffectiveLimits {
  limits: MediaLimits;
  /** The limits the pipeline set below the installation's. */
  tightened: ReadonlySet<MediaLimitName>;
}

export function effectiveLimits(installation: MediaLimits, pipeline: Partial<MediaLimits> = {}): EffectiveLimits {
  const limits = { ...installation };
  const tightened = new Set<MediaLimitName>();
  for (const name of MEDIA_LIMIT_NAMES) {
    const own = pipeline[name];
    if (own !== undefined && own < limits[name]) {
      limits[name] = own;
      tightened.add(name);
    }
  }
  return { limits, tightened };
}

/** A pipeline's `mediaLimits` as the catalog accepts it: known names, each a positive finite number. */
export function mediaLimitsProblem(value: unknown): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'mediaLimits must be an object';
  for (const [key, limit] of Object.entries(value)) {
    if (!(MEDIA_LIMIT_NAMES as readonly string[]).includes(key)) return `mediaLimits has an unknown limit "${key}" (known: ${MEDIA_LIMIT_NAMES.join(', ')})`;
    if (typeof limit !== 'number' || !Number.isFinite(limit) || limit <= 0) return `mediaLimits.${key} must be a positive number`;
  }
  return null;
}

const videoStreams = (output: FfprobeOutput) =>
  (output.streams ?? []).filter((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);

function num(value: string | number | undefined): number | null {
  if (value === undefined || value === '' || value === 'N/A') return null;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

const maxOf = (values: Array<number | null>): number | null => {
  const known = values.filter((v): v is number => v !== null);
  return known.length ? Math.max(...known) : null;
};

/**
 * The figures of a probed file, each the largest any stream shows:
 * - duration: the container's (ffmpeg's estimate over every stream), else the longest stream's;
 * - size: the largest video stream;
 * - frames: per video stream, the packets counted (`-count_packets`) when there are, else what the
 *   container states;
 * - frame rate: per video stream, `avg_frame_rate` (frames over duration, as the container or the
 *   first packets tell) and, when the stream lasts a second or more, its frames over its duration,
 *   whichever is higher. `r_frame_rate` is not trusted: it is a guess at the timestamps' base rate,
 *   which for variable-frame-rate files is often 1000 or 90000 though they play at 30. A file that
 *   lies in its header is caught by its frame count, and in the end by the tools' wall-time limit.
 * Cover art (attached pictures) is not a video stream here.
 */
export function mediaFigures(output: FfprobeOutput): MediaFigures {
  const streams = output.streams ?? [];
  const videos = videoStreams(output);
  const largest = videos.reduce<{ width: number; height: number }>(
    (best, s) => ((s.width ?? 0) * (s.height ?? 0) > best.width * best.height ? { width: s.width ?? 0, height: s.height ?? 0 } : best),
    { width: 0, height: 0 },
  );
  const framesOf = (s: (typeof videos)[number]) => num(s.nb_read_packets) ?? num(s.nb_frames);
  const fpsOf = (s: (typeof videos)[number]) => {
    const frames = framesOf(s);
    const duration = num(s.duration);
    const measured = frames !== null && duration !== null && duration >= 1 ? frames / duration : null;
    return maxOf([rate(s.avg_frame_rate), measured]);
  };
  return {
    durationSec: num(output.format?.duration) ?? maxOf(streams.map((s) => num(s.duration))),
    width: largest.width,
    height: largest.height,
    fps: maxOf(videos.map(fpsOf)),
    frameCount: maxOf(videos.map(framesOf)),
    streamCount: Math.max(streams.length, output.format?.nb_streams ?? 0),
  };
}

export interface LimitViolation {
  limit: MediaLimitName;
  value: number;
  max: number;
}

/** The limits the figures are over, in a fixed order; empty when the video is within all of them. */
export function checkMediaLimits(figures: MediaFigures, limits: MediaLimits): LimitViolation[] {
  const values: Record<MediaLimitName, number | null> = {
    maxDurationSec: figures.durationSec,
    maxPixels: figures.width * figures.height,
    maxFps: figures.fps,
    maxFrames: figures.frameCount,
    maxStreams: figures.streamCount,
  };
  return MEDIA_LIMIT_NAMES.flatMap((limit) => {
    const value = values[limit];
    return value !== null && value > limits[limit] ? [{ limit, value, max: limits[limit] }] : [];
  });
}

const round = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(3).replace(/\.?0+$/, ''));

/** One line for the job's error: each limit the video is over, its value, and where the limit comes from. */
export function describeViolations(violations: readonly LimitViolation[], figures: MediaFigures, effective: EffectiveLimits, pipeline: string): string {
  const parts = violations.map(({ limit, value, max }) => {
    const where = effective.tightened.has(limit) ? `pipeline "${pipeline}"'s limit` : MEDIA_LIMIT_VARIABLES[limit];
    switch (limit) {
      case 'maxDurationSec':
        return `duration ${round(value)} s is over ${round(max)} s (${where})`;
      case 'maxPixels':
        return `frame size ${figures.width}x${figures.height} (${value} pixels) is over ${round(max)} pixels (${where})`;
      case 'maxFps':
        return `frame rate ${round(value)} fps is over ${round(max)} fps (${where})`;
      case 'maxFrames':
        return `frame count ${round(value)} is over ${round(max)} (${where})`;
      case 'maxStreams':
        return `${value} streams are over ${round(max)} (${where})`;
      default: {
        const unreachable: never = limit;
        return String(unreachable);
      }
    }
  });
  return `the video is too large to process: ${parts.join('; ')}`;
}
