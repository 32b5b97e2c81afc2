import { ErrorCode } from '@app/contracts';
import { ToolError, type MediaInfo } from '../tool.js';

/** The parts of ffprobe's JSON output (`-show_format -show_streams -count_packets`) that Framewire reads. */
export interface FfprobeOutput {
  format?: {
    format_name?: string;
    duration?: string;
    start_time?: string;
    size?: string;
    bit_rate?: string;
    nb_streams?: number;
  };
  streams?: Array<{
    index: number;
    codec_type?: string;
    codec_name?: string;
    start_time?: string;
    width?: number;
    height?: number;
    avg_frame_rate?: string;
    r_frame_rate?: string;
    nb_frames?: string;
    nb_read_packets?: string;
    duration?: string;
    bit_rate?: string;
    channels?: number;
    sample_rate?: string;
    pix_fmt?: string;
    tags?: Record<string, string>;
    side_data_list?: Array<{ rotation?: number }>;
    disposition?: { attached_pic?: number };
  }>;
}

export interface ProbeResult {
  [key: string]: unknown;
  format: string | null;
  duration: number | null;
  size: number | null;
  bit_rate: number | null;
  width: number;
  height: number;
  fps: number | null;
  codec: string | null;
  pix_fmt: string | null;
  frame_count: number | null;
  rotation: number;
  audio: { codec: string | null; channels: number | null; sample_rate: number | null } | null;
  stream_count: number;
}

/**
 * What the probe pipeline reports, from ffprobe's output. A file without a video stream is not a
 * video, whatever its name says: INVALID_MEDIA.
 */
export function toProbeResult(output: FfprobeOutput): ProbeResult {
  const streams = output.streams ?? [];
  const video = streams.find((s) => s.codec_type === 'video' && (s.width ?? 0) > 0);
  if (!video) throw new ToolError(ErrorCode.InvalidMedia, 'the file has no video stream', true);
  const audio = streams.find((s) => s.codec_type === 'audio');
  const format = output.format ?? {};
  return {
    format: format.format_name ?? null,
    duration: round(num(format.duration) ?? num(video.duration), 3),
    size: num(format.size),
    bit_rate: num(format.bit_rate) ?? num(video.bit_rate),
    width: video.width!,
    height: video.height!,
    fps: round(rate(video.avg_frame_rate) ?? rate(video.r_frame_rate), 3),
    codec: video.codec_name ?? null,
    pix_fmt: video.pix_fmt ?? null,
    frame_count: num(video.nb_read_packets) ?? num(video.nb_frames),
    rotation: rotationOf(video),
    audio: audio
      ? { codec: audio.codec_name ?? null, channels: audio.channels ?? null, sample_rate: num(audio.sample_rate) }
      : null,
    stream_count: format.nb_streams ?? streams.length,
  };
}

/** What the tools get to know about the video, from the same ffprobe output. */
export function toMediaInfo(output: FfprobeOutput): MediaInfo {
  const details = toProbeResult(output);
  return {
    durationSec: details.duration,
    startSec: num(output.format?.start_time),
    audioStartSec: num((output.streams ?? []).find((s) => s.codec_type === 'audio')?.start_time),
    width: details.width,
    height: details.height,
    fps: details.fps,
    // nb_read_packets (counted while demuxing) is what is really there; nb_frames is the container's word.
    frameCount: details.frame_count,
    hasAudio: details.audio !== null,
    codec: details.codec,
    details,
  };
}

function num(value: string | number | undefined): number | null {
  if (value === undefined || value === '' || value === 'N/A') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** ffprobe rates are fractions such as "30000/1001"; "0/0" means unknown. */
export function rate(value: string | undefined): number | null {
  if (!value) return null;
  const [n, d] = value.split('/').map(Number);
  if (!Number.isFinite(n) || !d || !Number.isFinite(d) || n === 0) return null;
  return n! / d;
}

function round(value: number | null, digits: number): number | null {
  if (value === null) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function rotationOf(stream: NonNullable<FfprobeOutput['streams']>[number]): number {
  const fromSideData = stream.side_data_list?.find((d) => typeof d.rotation === 'number')?.rotation;
  const fromTag = num(stream.tags?.['rotate']);
  return fromSideData ?? fromTag ?? 0;
}
