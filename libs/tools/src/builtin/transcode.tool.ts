import { copyFile, link, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { ErrorCode } from '@app/contracts';
import { defineTool, mediaOf, ToolError, type ToolContext, type ToolOutput } from '../tool.js';
import { partArtifactName, type JoinPart, type SplitPart } from '../split/split-support.js';
import { besideList } from '../split/concat-list.js';

const splitLength = z.number().min(2).max(3600);

export const transcodeParams = z
  .strictObject({
    height: z.number().int().min(16).max(4320).default(360).describe('height of the rendition in pixels (made even); the width keeps the aspect ratio'),
    crf: z.number().int().min(0).max(51).default(23).describe('x264 constant rate factor: lower is better and larger'),
    preset: z.enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium']).default('veryfast').describe('x264 preset: speed against size'),
    audio_bitrate_kbps: z.number().int().min(32).max(512).default(128).describe('AAC bit rate'),
    split_seconds: splitLength
      .optional()
      .describe('encode the video in parts of about this many seconds (cut at key frames), which any worker may run, then join them; off when absent'),
    segment_seconds: splitLength.optional().describe('the same as split_seconds'),
  })
  .superRefine((params, ctx) => {
    if (params.split_seconds !== undefined && params.segment_seconds !== undefined && params.split_seconds !== params.segment_seconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['segment_seconds'],
        message: `segment_seconds (${params.segment_seconds}) is another name for split_seconds (${params.split_seconds}): give one of them, or both the same`,
      });
    }
  });

type TranscodeParams = z.output<typeof transcodeParams>;

/** The rendition's artifact name; a split job's join writes the same one. */
function renditionOf(params: TranscodeParams): { height: number; name: string } {
  const height = params.height - (params.height % 2);
  return { height, name: `rendition-${height}p.mp4` };
}

/**
 * The video encoding of a rendition, the same for an unsplit run and for every part of a split one,
 * so that the parts join into what `run` would have made. Each frame keeps its own timestamp (`-fps_mode
 * vfr`, in the source's time base): no frame is duplicated or dropped to fit a constant rate, which
 * could not be decided the same way in a part as in the whole video.
 */
function videoEncoding(params: TranscodeParams): string[] {
  return [
    '-fps_mode', 'vfr', '-enc_time_base', '-1',
    '-c:v', 'libx264', '-preset', params.preset, '-crf', String(params.crf), '-pix_fmt', 'yuv420p',
  ];
}

/** The timing a part wrote beside its video, for the join: the part as it was given. */
const PART_TIMING = 'part.json';

/** The whole video's audio, encoded by the first part (see audioMadeByFirstPart). */
const PART_AUDIO = 'audio.m4a';

/** The audio encoding of a rendition: the same in an unsplit run, the first part and the join. */
function audioEncoding(params: TranscodeParams): string[] {
  return ['-c:a', 'aac', '-b:a', `${params.audio_bitrate_kbps}k`];
}

/**
 * Whether the first part also encodes the whole video's audio, so that the join only copies it. The
 * audio is a whole run's serial work that no part did before: on one thread, encoding two minutes of
 * AAC takes about as long as a quarter of the parts' encoding at 360p, and the join, which waits for
 * every part, did it alone. The first part is requested first, so its longer run overlaps the other
 * parts'. Only when the audio starts where the container does: an audio file read back is counted from
 * its own start, which then is the source's, so the join places it as it places the source's audio.
 * Otherwise the join encodes the audio from the source, as before.
 */
function audioMadeByFirstPart(media: { hasAudio: boolean; startSec?: number | null; audioStartSec?: number | null }): boolean {
  return media.hasAudio && media.audioStartSec != null && media.audioStartSec === (media.startSec ?? null);
}

/** Seconds as ffmpeg reads them, to the microsecond it keeps. */
const secondsText = (s: number) => s.toFixed(6);

/**
 * How far below a cut the boundary between two parts is placed: a frame whose time ffprobe printed as
 * the cut (to the microsecond) is at most half a microsecond from it, while the frame before it is at
 * least 0.1 ms earlier (at up to 10,000 frames a second). Both parts compare their frames against the
 * same boundary, so each frame falls in exactly one of them.
 */
const BELOW_CUT = 0.00005;

/**
 * `transcode`: an H.264/AAC MP4 rendition at the requested height, with the index at the front
 * (faststart) so players can start before the download ends. A video without audio gets none.
 * With `split_seconds`, a split job encodes the video in parts (runPart) and joins them (join).
 */
export const transcodeTool = defineTool({
  name: 'transcode',
  version: '1.1.0',
  description: 'an H.264/AAC MP4 rendition at a requested height, with faststart',
  params: transcodeParams,
  async run(ctx) {
    const media = mediaOf(ctx);
    const { height, name } = renditionOf(ctx.params);
    const out = join(ctx.workDir, name);
    const args = ['-i', ctx.inputPath, '-map', '0:v:0', '-map', '0:a:0?', '-vf', `scale=-2:${height}`, ...videoEncoding(ctx.params)];
    if (media.hasAudio) args.push(...audioEncoding(ctx.params));
    args.push('-movflags', '+faststart', '-f', 'mp4', out);
    await ctx.tools.ffmpeg(args, {
      onProgress: (p) => {
        if (p.frame !== null) ctx.progress.frames(p.frame, media.frameCount);
        else if (p.outTimeSec !== null && media.durationSec) ctx.progress.fraction(p.outTimeSec / media.durationSec);
      },
    });
    return renditionOutput(ctx, name, out, height);
  },
  split: {
    splitSeconds: (params) => params.split_seconds ?? params.segment_seconds ?? null,

    /**
     * The video of [start, end) only, encoded as `run` encodes it, into `part-NNNN-video.mp4`; and the
     * part's timing beside it (`part-NNNN-part.json`) for the join. ffmpeg keeps the source's
     * timestamps (`-copyts`) so that the part's frames are chosen by their own times (`trim`) against
     * the same boundaries the neighbouring parts use; the seek (to the key frame at the part's start,
     * or one before it) only saves decoding. The part's timestamps then start at zero.
     */
    async runPart(ctx, part) {
      const media = mediaOf(ctx);
      checkPart(part);
      const { height } = renditionOf(ctx.params);
      const name = partArtifactName(part.index, 'video.mp4');
      const out = join(ctx.workDir, name);
      // The first part keeps whatever comes before its start (nothing, or frames before the first
      // key frame), the last one whatever comes after the last cut.
      const bounds = [...(part.index > 0 ? [`start=${secondsText(part.start - BELOW_CUT)}`] : []), ...(part.end !== null ? [`end=${secondsText(part.end - BELOW_CUT)}`] : [])];
      const filters = [...(bounds.length > 0 ? [`trim=${bounds.join(':')}`] : []), 'setpts=PTS-STARTPTS', `scale=-2:${height}`];
      const seek = part.index > 0 ? ['-seek_timestamp', '1', '-ss', secondsText(part.start), '-noaccurate_seek'] : [];
      const args = ['-copyts', ...seek, '-i', ctx.inputPath, '-map', '0:v:0', '-an', '-sn', '-dn', '-vf', filters.join(','), ...videoEncoding(ctx.params), '-f', 'mp4', out];
      const length = (part.end ?? (media.startSec ?? 0) + (media.durationSec ?? part.start)) - part.start;
      const withAudio = part.index === 0 && audioMadeByFirstPart(media);
      // With the audio, the video is counted as the first half of the part's progress (it is about that).
      const share = withAudio ? 0.5 : 1;
      const fraction = (done: number, offset: number) => ctx.progress.fraction(offset + share * Math.min(1, Math.max(0, done)));
      await ctx.tools.ffmpeg(args, {
        onProgress: (p) => {
          if (p.outTimeSec !== null && length > 0) fraction(p.outTimeSec / length, 0);
        },
      });
      const timing = join(ctx.workDir, partArtifactName(part.index, PART_TIMING));
      await writeFile(timing, JSON.stringify({ index: part.index, start: part.start, end: part.end } satisfies SplitPart));
      await ctx.artifacts.putFile(name, out, 'video/mp4');
      await ctx.artifacts.putFile(partArtifactName(part.index, PART_TIMING), timing, 'application/json');
      if (withAudio) {
        const audio = join(ctx.workDir, partArtifactName(part.index, PART_AUDIO));
        await ctx.tools.ffmpeg(['-i', ctx.inputPath, '-map', '0:a:0', '-vn', '-sn', '-dn', ...audioEncoding(ctx.params), '-f', 'mp4', audio], {
          onProgress: (p) => {
            if (p.outTimeSec !== null && media.durationSec) fraction(p.outTimeSec / media.durationSec, 0.5);
          },
        });
        await ctx.artifacts.putFile(partArtifactName(part.index, PART_AUDIO), audio, 'audio/mp4');
      }
      ctx.progress.fraction(1);
    },

    /**
     * The parts' videos one after the other without encoding them again (the concat demuxer, `-c:v
     * copy`), each placed at its start's distance from the first part's (the list's `duration`s, from
     * the parts' own timing), with the source's audio encoded once beside them: what `run` makes. The
     * audio is copied from the first part's when it made it (audioMadeByFirstPart): the same packets.
     */
    async join(ctx, parts) {
      const media = mediaOf(ctx);
      const { height, name } = renditionOf(ctx.params);
      const timings = await partsInOrder(parts);
      const lines = ['ffconcat version 1.0'];
      for (const [i, { part, video }] of timings.entries()) {
        lines.push(`file '${await besideList(ctx.workDir, video, `joined-${partArtifactName(part.index, 'video.mp4')}`)}'`);
        // A part's length is the distance to the next one's start, in whole microseconds of both
        // (ffmpeg's own unit), so the lengths add up to each start exactly.
        if (i < timings.length - 1) lines.push(`duration ${((micros(timings[i + 1]!.part.start) - micros(part.start)) / 1e6).toFixed(6)}`);
      }
      const list = join(ctx.workDir, 'parts.ffconcat');
      await writeFile(list, `${lines.join('\n')}\n`);
      // ffmpeg counts each input from its own start: the parts from the first part's, the source from
      // its container's. The parts are moved by what lies between the two, as in an unsplit run.
      const first = timings[0]!.part.start;
      const offset = Math.max(0, first - (media.startSec ?? first));
      const out = join(ctx.workDir, name);
      const madeAudio = media.hasAudio && audioMadeByFirstPart(media) ? parts.find((p) => p.index === 0)?.files.get(partArtifactName(0, PART_AUDIO)) : undefined;
      const audioInput = madeAudio ? ['-f', 'mov', '-i', madeAudio] : ['-i', ctx.inputPath];
      const args = ['-itsoffset', secondsText(offset), '-f', 'concat', '-i', list, ...audioInput, '-map', '0:v:0', '-map', '1:a:0?', '-c:v', 'copy'];
      if (madeAudio) args.push('-c:a', 'copy');
      else if (media.hasAudio) args.push(...audioEncoding(ctx.params));
      args.push('-movflags', '+faststart', '-f', 'mp4', out);
      await ctx.tools.ffmpeg(args, {
        onProgress: (p) => {
          if (p.outTimeSec !== null && media.durationSec) ctx.progress.fraction(Math.min(1, p.outTimeSec / media.durationSec));
        },
      });
      return renditionOutput(ctx, name, out, height);
    },
  },
});

async function renditionOutput(ctx: ToolContext<TranscodeParams>, name: string, out: string, height: number): Promise<ToolOutput> {
  const media = mediaOf(ctx);
  const artifact = await ctx.artifacts.putFile(name, out, 'video/mp4');
  const { size } = await stat(out);
  return {
    summary: { rendition: name },
    data: { rendition: { name: artifact.name, height, size, video_codec: 'h264', audio_codec: media.hasAudio ? 'aac' : null, faststart: true } },
  };
}

function checkPart(part: SplitPart): void {
  const ok = Number.isInteger(part.index) && part.index >= 0 && Number.isFinite(part.start) && (part.end === null || (Number.isFinite(part.end) && part.end > part.start));
  if (!ok) throw new ToolError(ErrorCode.ToolFailed, `not a part of a video: ${JSON.stringify(part)}`, true);
}

const micros = (seconds: number) => Math.round(seconds * 1e6);

/** Each part's timing and video, in index order; refused unless they are parts 0 to n-1, each ending where the next starts. */
async function partsInOrder(parts: readonly JoinPart[]): Promise<Array<{ part: SplitPart; video: string }>> {
  const sorted = [...parts].sort((a, b) => a.index - b.index);
  const out: Array<{ part: SplitPart; video: string }> = [];
  for (const [i, joinPart] of sorted.entries()) {
    const video = joinPart.files.get(partArtifactName(joinPart.index, 'video.mp4'));
    const timingPath = joinPart.files.get(partArtifactName(joinPart.index, PART_TIMING));
    if (joinPart.index !== i || !video || !timingPath) {
      throw new ToolError(ErrorCode.ToolFailed, `the join needs the video and timing of parts 0 to ${sorted.length - 1}; part ${i} is not there`, false);
    }
    const part = JSON.parse(await readFile(timingPath, 'utf8')) as SplitPart;
    checkPart(part);
    out.push({ part, video });
  }
  for (const [i, { part }] of out.entries()) {
    const next = out[i + 1]?.part;
    if (part.index !== i || (next ? part.end === null || micros(part.end) !== micros(next.start) : part.end !== null)) {
      throw new ToolError(ErrorCode.ToolFailed, `part ${i} (${JSON.stringify(part)}) does not end where the next part starts`, true);
    }
  }
  if (out.length === 0) throw new ToolError(ErrorCode.ToolFailed, 'the join was given no parts', true);
  return out;
}

