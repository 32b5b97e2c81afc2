import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ErrorCode } from '@app/contracts';
import { readAvcTrack } from '../media/mp4-init.js';
import { partArtifactName, type JoinPart, type SplitPart } from '../split/split-support.js';
import { besideList, ffconcatList } from '../split/concat-list.js';
import { defineTool, mediaOf, ToolError, type MediaInfo, type ToolContext, type ToolOutput } from '../tool.js';
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
  split_seconds: z
    .number()
    .int()
    .min(2)
    .max(3600)
    .optional()
    .describe('when set, the video is cut at key frames near every multiple of it and the parts are encoded on many workers, then joined; key frames stay at the multiples of segment_seconds, so the segments are those of an unsplit run'),
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

/** The renditions made for a source: one per height of renditionHeights. */
export function hlsRenditions(params: HlsParams, source: Pick<HlsSource, 'displayHeight'>): HlsRendition[] {
  return renditionHeights(params.renditions, source.displayHeight).map((height) => ({
    height,
    maxrateKbps: maxrateKbps(height),
    playlist: `hls-${height}p.m3u8`,
    file: `hls-${height}p.mp4`,
  }));
}

/**
 * The filter graph that decodes the video once and scales it to every rendition, `[v<i>]` for the
 * i-th. Square pixels first (a no-op for most sources), so RESOLUTION is the size as displayed.
 */
function ladderGraph(renditions: readonly HlsRendition[]): string {
  return (
    `[0:v:0]scale=trunc(iw*sar/2)*2:ih,setsar=1,split=${renditions.length}${renditions.map((_, i) => `[s${i}]`).join('')};` +
    renditions.map((r, i) => `[s${i}]scale=-2:${r.height}[v${i}]`).join(';')
  );
}

/**
 * The encoder options every video rendition shares, whole or in parts. Key frames are forced at
 * every multiple of segment_seconds of the SOURCE's timeline: a part that starts `startSec` into the
 * video counts its own time from zero, so its first forced key frame is at the first multiple at or
 * after its start, less its start. Parts cut anywhere else then still have their key frames, and so
 * the joined rendition its segment boundaries, where an unsplit run has them. x264's scene cuts are
 * off, and its own interval (two segments at the source's average rate) is only a backstop that
 * never comes first, not even for a variable rate. The output has a constant frame rate (see
 * hlsCommand).
 */
function videoEncoderArgs(params: HlsParams, source: HlsSource, startSec = 0): string[] {
  const segment = params.segment_seconds;
  const gop = Math.max(1, Math.ceil(2 * (source.fps ?? 30) * segment));
  // A start a hair past a multiple (a float's rounding) must not skip that multiple's key frame.
  const first = Math.ceil(startSec / segment - 1e-9);
  const keyFrames = startSec === 0 ? `expr:gte(t,n_forced*${segment})` : `expr:gte(t,(n_forced+${first})*${segment}-${ffmpegSeconds(startSec)})`;
  return ['-c:v', 'libx264', '-preset', params.preset, '-crf', String(params.crf), '-pix_fmt', 'yuv420p',
    '-force_key_frames', keyFrames, '-sc_threshold', '0', '-g', String(gop), '-fps_mode', 'cfr'];
}

/** The bit rate cap of the video stream `stream` (its index among the output's video streams) for rendition `r`. */
function rateCapArgs(r: HlsRendition, stream: number): string[] {
  return [`-maxrate:v:${stream}`, `${r.maxrateKbps}k`, `-bufsize:v:${stream}`, `${r.maxrateKbps * 2}k`];
}

/**
 * The HLS muxer's options, for one output whose video streams are the renditions in order and whose
 * audio, when there is some, is the stream after them: each rendition and the audio as ONE fMP4
 * file with a media playlist of byte ranges (`single_file`), `hls-<name>.mp4` and `.m3u8`. The muxer
 * starts a segment at the first key frame at or after each multiple of segment_seconds.
 */
function hlsMuxerArgs(workDir: string, segment: number, renditions: readonly HlsRendition[], audio: HlsAudio | null): string[] {
  const streams = renditions.map((r, i) => `v:${i},${audio ? `agroup:${AUDIO_GROUP},` : ''}name:${r.height}p`);
  if (audio) streams.push(`a:0,agroup:${AUDIO_GROUP},name:audio`);
  return ['-f', 'hls', '-hls_time', String(segment), '-hls_playlist_type', 'vod', '-hls_segment_type', 'fmp4',
    '-hls_flags', 'single_file+independent_segments', '-var_stream_map', streams.join(' '),
    '-hls_segment_filename', join(workDir, 'hls-%v.mp4'), join(workDir, 'hls-%v.m3u8')];
}

function audioArgs(params: HlsParams): string[] {
  return ['-c:a', 'aac', '-b:a', `${params.audio_bitrate_kbps}k`];
}

export interface HlsAudio {
  playlist: string;
  file: string;
}

function audioRendition(source: Pick<HlsSource, 'hasAudio'>): HlsAudio | null {
  return source.hasAudio ? { playlist: 'hls-audio.m3u8', file: 'hls-audio.mp4' } : null;
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
  const renditions = hlsRenditions(params, source);
  const audio = audioRendition(source);
  const args = ['-i', inputPath, '-filter_complex', ladderGraph(renditions), ...renditions.flatMap((_, i) => ['-map', `[v${i}]`])];
  if (audio) args.push('-map', '0:a:0');
  args.push(...videoEncoderArgs(params, source), ...renditions.flatMap((r, i) => rateCapArgs(r, i)));
  if (audio) args.push(...audioArgs(params));
  args.push(...hlsMuxerArgs(workDir, params.segment_seconds, renditions, audio));
  return { args, renditions, audio };
}

/**
 * The command of one part of a split run: the video from `part.start` up to `part.end` (ffmpeg's
 * accurate seek decodes from the key frame before the start and drops what comes before it; `-to`
 * stops before the next part's first frame), decoded once and encoded into every rendition with the
 * settings of hlsCommand, each a plain MP4 of video only (the join adds the audio):
 * `part-<index>-hls-<height>p.mp4`. Part times are seconds from the start of the file, as `-ss`
 * reads them.
 */
/**
 * The parts' movie time scale. The concat demuxer places each part after the one before by the
 * part's length as its movie header states it, in the movie's time scale: by default milliseconds,
 * which a frame of 1/30 s is not a whole number of, so every part would move the rest of the video
 * by up to a millisecond. In microseconds (the demuxer's own unit) the length is exact to the unit it
 * is read in.
 */
const MICROSECONDS = 1_000_000;

export function hlsPartCommand(inputPath: string, workDir: string, params: HlsParams, source: HlsSource, part: SplitPart) {
  const renditions = hlsRenditions(params, source);
  const outputs = renditions.map((r) => ({ rendition: r, artifact: partArtifactName(part.index, r.file) }));
  const args = ['-ss', ffmpegSeconds(part.start), ...(part.end === null ? [] : ['-to', ffmpegSeconds(part.end)]), '-i', inputPath, '-filter_complex', ladderGraph(renditions)];
  for (const [i, { rendition, artifact }] of outputs.entries()) {
    args.push('-map', `[v${i}]`, ...videoEncoderArgs(params, source, part.start), ...rateCapArgs(rendition, 0), '-movie_timescale', String(MICROSECONDS), join(workDir, artifact));
  }
  return { args, renditions, outputs };
}

/**
 * The join's command: each rendition's parts, in order, read by the concat demuxer from a list in
 * `workDir` and copied (not encoded again) into the HLS muxer of hlsCommand, so the rendition is the
 * same single fMP4 with a media playlist of byte ranges; the audio is encoded from the source, once,
 * as in an unsplit run. The source is input 0 only when it has audio: a silent video's join does not
 * read it. `lists[i]` is the concat list of rendition i.
 */
export function hlsJoinCommand(inputPath: string, workDir: string, params: HlsParams, source: HlsSource, lists: readonly string[]) {
  const renditions = hlsRenditions(params, source);
  const audio = audioRendition(source);
  if (lists.length !== renditions.length) throw new ToolError(ErrorCode.ToolFailed, `hls: ${lists.length} part lists for ${renditions.length} renditions`, false);
  const args = audio ? ['-i', inputPath] : [];
  // The lists name files beside them by plain names; the worker's runner reads them with -safe 1 and files only.
  for (const list of lists) args.push('-f', 'concat', '-i', list);
  const first = audio ? 1 : 0;
  args.push(...renditions.flatMap((_, i) => ['-map', `${first + i}:v:0`]));
  if (audio) args.push('-map', '0:a:0');
  args.push('-c:v', 'copy');
  if (audio) args.push(...audioArgs(params));
  args.push(...hlsMuxerArgs(workDir, params.segment_seconds, renditions, audio));
  return { args, renditions, audio };
}

/** Seconds as ffmpeg reads them, to the microsecond (its time base): never an exponent. */
function ffmpegSeconds(value: number): string {
  return value.toFixed(6);
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
    const { args, renditions, audio } = hlsCommand(ctx.inputPath, ctx.workDir, ctx.params, sourceOf(media));
    const frames = await runCounting(ctx, args, media.frameCount, media.durationSec);
    return publish(ctx, media, renditions, audio, frames);
  },
  split: {
    splitSeconds: (params) => params.split_seconds ?? null,

    async runPart(ctx, part) {
      const media = mediaOf(ctx);
      const { args, outputs } = hlsPartCommand(ctx.inputPath, ctx.workDir, ctx.params, sourceOf(media), part);
      const end = part.end ?? media.durationSec;
      const expected = end !== null && media.fps ? Math.max(1, Math.round((end - part.start) * media.fps)) : null;
      await runCounting(ctx, args, expected, end === null ? null : end - part.start);
      await inParallel(outputs, UPLOADS_AT_ONCE, ({ artifact }) => ctx.artifacts.putFile(artifact, join(ctx.workDir, artifact), 'video/mp4'));
    },

    async join(ctx, parts) {
      const media = mediaOf(ctx);
      const source = sourceOf(media);
      const ordered = [...parts].sort((a, b) => a.index - b.index);
      // A part left out would be a hole in the video that nothing after this would notice.
      if (ordered.length === 0 || ordered.some((part, i) => part.index !== i)) {
        throw new ToolError(ErrorCode.ToolFailed, `hls: the join needs parts 0 to n-1, got ${ordered.map((part) => part.index).join(', ') || 'none'}`, false);
      }
      const lists = await Promise.all(hlsRenditions(ctx.params, source).map(async (r) => {
        const list = join(ctx.workDir, `hls-${r.height}p.concat`);
        const names = await Promise.all(ordered.map((part) => besideList(ctx.workDir, partFile(part, r), `joined-${partArtifactName(part.index, `hls-${r.height}p.mp4`)}`)));
        await writeFile(list, ffconcatList(names.map((name) => ({ name }))));
        return list;
      }));
      const { args, renditions, audio } = hlsJoinCommand(ctx.inputPath, ctx.workDir, ctx.params, source, lists);
      const frames = await runCounting(ctx, args, media.frameCount, media.durationSec);
      return publish(ctx, media, renditions, audio, frames);
    },
  },
});

function sourceOf(media: MediaInfo): HlsSource {
  return { displayHeight: displayHeight(media), fps: media.fps, hasAudio: media.hasAudio };
}

/** The local file of rendition `r` that part `part` made, under the artifact name it uploaded it as. */
function partFile(part: JoinPart, r: HlsRendition): string {
  const name = partArtifactName(part.index, r.file);
  const path = part.files.get(name);
  if (!path) throw new ToolError(ErrorCode.ToolFailed, `hls: part ${part.index} has no ${name} to join`, false);
  return path;
}

/**
 * Runs an ffmpeg command of the tool, reporting progress by frames (of `expectedFrames`) or else by
 * output time (of `expectedSec`); resolves with the frames ffmpeg said it made (its last report), or
 * null when it never said.
 */
async function runCounting(ctx: ToolContext<HlsParams>, args: string[], expectedFrames: number | null, expectedSec: number | null): Promise<number | null> {
  let frames: number | null = null;
  await ctx.tools.ffmpeg(args, {
    onProgress: (p) => {
      if (p.frame !== null) {
        frames = p.frame;
        ctx.progress.frames(p.frame, expectedFrames);
      } else if (p.outTimeSec !== null && expectedSec) ctx.progress.fraction(p.outTimeSec / expectedSec);
    },
  });
  return frames;
}

/**
 * What follows the HLS muxer, whole or joined: reads each media playlist and initialization
 * section, writes the master playlist, uploads the playlists and files, and returns the tool's output.
 */
async function publish(ctx: ToolContext<HlsParams>, media: MediaInfo, renditions: readonly HlsRendition[], audio: HlsAudio | null, frames: number | null): Promise<ToolOutput> {
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
}

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
