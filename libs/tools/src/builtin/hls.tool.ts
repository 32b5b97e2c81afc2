import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ErrorCode } from '@app/contracts';
import { readAvcTrack } from '../media/mp4-init.js';
import { defineTool, mediaOf, ToolError, type MediaInfo } from '../tool.js';
import { masterPlaylist, readMediaPlaylist, type ByteRange, type MediaPlaylistSummary } from './hls-playlist.js';
import { inParallel } from './sampling.js';

/** How many artifact uploads run at once. */
const UPLOADS_AT_ONCE = 8;

/** The audio group every variant names, and the name of the audio rendition. */
const AUDIO_GROUP = 'audio';

/** The codec string of ffmpeg's AAC encoder (AAC-LC) in an MP4. */
const AAC_LC = 'mp4a.40.2';

export const MASTER_PLAYLIST = 'master.m3u8';
export const PLAYLIST_CONTENT_TYPE = 'application/vnd.apple.mpegurl';

export const hlsParams = z.strictObject({
  renditions: z
    .array(z.number().int().min(144).max(4320))
    .min(1)
    .max(8)
    .refine((heights) => new Set(heights).size === heights.length, 'the rendition heights must be unique')
    .default([240, 360, 480, 720, 1080])
    .describe('heights of the video renditions in pixels (made even); those above the source are dropped, and if none is left, one is made at the source height'),
  segment_seconds: z.number().int().min(1).max(20).default(4).describe('target length of a segment; key frames are forced at every multiple of it, in every rendition'),
  preset: z.enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium']).default('veryfast').describe('x264 preset: speed against size'),
  crf: z.number().int().min(0).max(51).default(23).describe('x264 constant rate factor, under the rendition\'s bit rate cap'),
  audio_bitrate_kbps: z.number().int().min(32).max(512).default(128).describe('AAC bit rate of the audio rendition'),
});

export type HlsParams = z.output<typeof hlsParams>;

/**
 * The bit rate cap (`-maxrate`, kbit/s) of an H.264 rendition of this height: the ladder's value at
 * its heights, linear between them, and by pixel count (height squared) below the lowest and above
 * the highest. `-bufsize` is twice it.
 */
const LADDER: ReadonlyArray<readonly [height: number, kbps: number]> = [[240, 400], [360, 800], [480, 1400], [720, 2800], [1080, 5000]];

export function maxrateKbps(height: number): number {
  const [lowest, highest] = [LADDER[0]!, LADDER.at(-1)!];
  if (height <= lowest[0]) return Math.round(lowest[1] * (height / lowest[0]) ** 2);
  if (height >= highest[0]) return Math.round(highest[1] * (height / highest[0]) ** 2);
  const upper = LADDER.findIndex(([h]) => h >= height);
  const [h0, k0] = LADDER[upper - 1]!;
  const [h1, k1] = LADDER[upper]!;
  return Math.round(k0 + ((k1 - k0) * (height - h0)) / (h1 - h0));
}

/** Heights as they are displayed: a video stored sideways (rotation ±90°) shows its width as its height. */
export function displayHeight(media: Pick<MediaInfo, 'width' | 'height' | 'details'>): number {
  return Math.abs(media.details.rotation ?? 0) % 180 === 90 ? media.width : media.height;
}

/**
 * The rendition heights made for a source `sourceHeight` pixels high (as displayed): the asked ones,
 * made even, up to the source's height, lowest first; or, if none is that low, the source's own
 * height (made even).
 */
export function renditionHeights(asked: readonly number[], sourceHeight: number): number[] {
  const even = (h: number) => h - (h % 2);
  const kept = [...new Set(asked.map(even))].filter((h) => h <= sourceHeight).sort((a, b) => a - b);
  return kept.length > 0 ? kept : [Math.max(2, even(sourceHeight))];
}

export interface HlsRendition {
  height: number;
  maxrateKbps: number;
  /** `hls-<height>p.m3u8` and `hls-<height>p.mp4`. */
  playlist: string;
  file: string;
}

/** What the source is, as far as the command depends on it. */
export interface HlsSource {
  displayHeight: number;
  fps: number | null;
  hasAudio: boolean;
}

/**
 * The one ffmpeg command of the tool (without the binary and the logging options): the video is
 * decoded once, split, scaled and encoded per rendition, and ffmpeg's HLS muxer writes each
 * rendition (and the audio, its own rendition) as ONE fragmented MP4 with a media playlist of byte
 * ranges (`single_file`). Key frames are forced at every multiple of segment_seconds and x264's scene
 * cuts are off, so every rendition has its key frames, and so its segment boundaries, at the same
 * times. The output has a constant frame rate (the source's base rate; a variable-rate source gets
 * frames repeated or dropped): ffmpeg 5.1's fMP4 HLS muxer closes a fragment before it knows the next
 * frame's time, so a gap in the timestamps at a segment boundary would be lost, and the video from
 * there on would run ahead of the audio. The master playlist is written by the tool, not by ffmpeg.
 * Exported so a benchmark can run the very same command raw.
 */
export function hlsCommand(inputPath: string, workDir: string, params: HlsParams, source: HlsSource) {
  const renditions: HlsRendition[] = renditionHeights(params.renditions, source.displayHeight).map((height) => ({
    height,
    maxrateKbps: maxrateKbps(height),
    playlist: `hls-${height}p.m3u8`,
    file: `hls-${height}p.mp4`,
  }));
  const audio = source.hasAudio ? { playlist: 'hls-audio.m3u8', file: 'hls-audio.mp4' } : null;
  const n = renditions.length;
  // Square pixels first (a no-op for most sources), so RESOLUTION is the size as displayed.
  const graph =
    `[0:v:0]scale=trunc(iw*sar/2)*2:ih,setsar=1,split=${n}${renditions.map((_, i) => `[s${i}]`).join('')};` +
    renditions.map((r, i) => `[s${i}]scale=-2:${r.height}[v${i}]`).join(';');
  const segment = params.segment_seconds;
  // The forced key frames make every GOP one segment; x264's own interval (two segments at the
  // source's average rate) is only a backstop that never comes first, not even for a variable rate.
  const gop = Math.max(1, Math.ceil(2 * (source.fps ?? 30) * segment));
  const args = ['-i', inputPath, '-filter_complex', graph, ...renditions.flatMap((_, i) => ['-map', `[v${i}]`])];
  if (audio) args.push('-map', '0:a:0');
  args.push('-c:v', 'libx264', '-preset', params.preset, '-crf', String(params.crf), '-pix_fmt', 'yuv420p',
    ...renditions.flatMap((r, i) => [`-maxrate:v:${i}`, `${r.maxrateKbps}k`, `-bufsize:v:${i}`, `${r.maxrateKbps * 2}k`]),
    '-force_key_frames', `expr:gte(t,n_forced*${segment})`, '-sc_threshold', '0', '-g', String(gop), '-fps_mode', 'cfr');
  if (audio) args.push('-c:a', 'aac', '-b:a', `${params.audio_bitrate_kbps}k`);
  const streams = renditions.map((r, i) => `v:${i},${audio ? `agroup:${AUDIO_GROUP},` : ''}name:${r.height}p`);
  if (audio) streams.push(`a:0,agroup:${AUDIO_GROUP},name:audio`);
  args.push('-f', 'hls', '-hls_time', String(segment), '-hls_playlist_type', 'vod', '-hls_segment_type', 'fmp4',
    '-hls_flags', 'single_file+independent_segments', '-var_stream_map', streams.join(' '),
    '-hls_segment_filename', join(workDir, 'hls-%v.mp4'), join(workDir, 'hls-%v.m3u8'));
  return { args, renditions, audio };
}

/**
 * `hls`: an HLS ladder for adaptive streaming. Each H.264 rendition, and the AAC audio as a rendition
 * of its own, is one fragmented MP4 (CMAF) file addressed by byte ranges from its media playlist
 * (see ADR 0008); the master playlist lists the video variants with their measured bandwidth.
 */
export const hlsTool = defineTool({
  name: 'hls',
  version: '1.0.0',
  description: 'an HLS ladder: H.264 renditions and an AAC audio rendition, each one fragmented MP4 addressed by byte ranges, and a master playlist',
  params: hlsParams,
  async run(ctx) {
    const media = mediaOf(ctx);
    const { args, renditions, audio } = hlsCommand(ctx.inputPath, ctx.workDir, ctx.params, { displayHeight: displayHeight(media), fps: media.fps, hasAudio: media.hasAudio });
    let frames: number | null = null;
    await ctx.tools.ffmpeg(args, {
      onProgress: (p) => {
        if (p.frame !== null) {
          frames = p.frame;
          ctx.progress.frames(p.frame, media.frameCount);
        } else if (p.outTimeSec !== null && media.durationSec) ctx.progress.fraction(p.outTimeSec / media.durationSec);
      },
    });

    const audioPlaylist = audio ? await mediaPlaylist(ctx.workDir, audio) : null;
    const audioCodecs = audio ? AAC_LC : null;
    const made = await Promise.all(renditions.map(async (r) => {
      const playlist = await mediaPlaylist(ctx.workDir, r);
      const track = readAvcTrack(await readRange(join(ctx.workDir, r.file), playlist.init));
      if (!track) throw new ToolError(ErrorCode.ToolFailed, `hls: ${r.file} has no H.264 sample description`, false);
      return {
        height: r.height,
        width: track.width,
        bandwidth: playlist.peakBandwidth + (audioPlaylist?.peakBandwidth ?? 0),
        average_bandwidth: playlist.averageBandwidth + (audioPlaylist?.averageBandwidth ?? 0),
        codecs: audioCodecs ? `${track.codecs},${audioCodecs}` : track.codecs,
        frame_rate: frameRate(frames, playlist.durationSec, media.fps),
        playlist: r.playlist,
        file: r.file,
        segment_count: playlist.segmentCount,
      };
    }));
    const master = masterPlaylist(
      made.map((r) => ({ playlist: r.playlist, bandwidth: r.bandwidth, averageBandwidth: r.average_bandwidth, width: r.width, height: r.height, codecs: r.codecs, frameRate: r.frame_rate })),
      audio ? { groupId: AUDIO_GROUP, name: AUDIO_GROUP, playlist: audio.playlist, channels: media.details.audio?.channels ?? null } : null,
    );
    await writeFile(join(ctx.workDir, MASTER_PLAYLIST), master);

    const uploads: Array<[name: string, contentType: string]> = [
      [MASTER_PLAYLIST, PLAYLIST_CONTENT_TYPE],
      ...renditions.flatMap((r): Array<[string, string]> => [[r.playlist, PLAYLIST_CONTENT_TYPE], [r.file, 'video/mp4']]),
      ...(audio ? ([[audio.playlist, PLAYLIST_CONTENT_TYPE], [audio.file, 'audio/mp4']] as Array<[string, string]>) : []),
    ];
    await inParallel(uploads, UPLOADS_AT_ONCE, ([name, contentType]) => ctx.artifacts.putFile(name, join(ctx.workDir, name), contentType));
    return {
      summary: { rendition_count: made.length, segment_seconds: ctx.params.segment_seconds },
      data: {
        hls: {
          master: MASTER_PLAYLIST,
          segment_seconds: ctx.params.segment_seconds,
          renditions: [...made].sort((a, b) => a.bandwidth - b.bandwidth || a.height - b.height),
          audio: audio ? { playlist: audio.playlist, file: audio.file, codecs: audioCodecs } : null,
        },
      },
    };
  },
});

/**
 * The frame rate of the renditions: the frames ffmpeg made (its last progress report; every
 * rendition has the same frames) over the rendition's length, or else the source's average rate;
 * to three decimals, as FRAME-RATE has it.
 */
export function frameRate(frames: number | null, durationSec: number, sourceFps: number | null): number | null {
  const fps = frames !== null && frames > 0 && durationSec > 0 ? frames / durationSec : sourceFps;
  return fps === null ? null : Math.round(fps * 1000) / 1000;
}

async function mediaPlaylist(workDir: string, names: { playlist: string; file: string }): Promise<MediaPlaylistSummary> {
  const summary = readMediaPlaylist(await readFile(join(workDir, names.playlist), 'utf8'));
  if (summary.file !== names.file) throw new ToolError(ErrorCode.ToolFailed, `hls: ${names.playlist} addresses ${summary.file}, not ${names.file}`, false);
  return summary;
}

/** `range.length` bytes of a file from `range.offset`. */
async function readRange(path: string, range: ByteRange): Promise<Uint8Array> {
  const file = await open(path, 'r');
  try {
    const bytes = new Uint8Array(range.length);
    const { bytesRead } = await file.read(bytes, 0, range.length, range.offset);
    return bytes.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}
