import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { imageSizeFromFile } from 'image-size/fromFile';
import { z } from 'zod';
import { parseMetadataPrint } from '../media/ffmpeg-progress.js';
import { defineTool, mediaOf, ToolError, type FrameOutput } from '../tool.js';
import { ErrorCode } from '@app/contracts';
import { ImageSequenceUploads } from './image-sequence-uploads.js';
import { expectedSamples, frameName, sampledProgress, samplingFilter, samplingParams, seconds } from './sampling.js';
import { cellSize, storyboardCues, storyboardVtt, type SheetLayout } from './storyboard.js';

/** How many artifact uploads run at once. */
const UPLOADS_AT_ONCE = 8;

/** Thumbnails per sprite sheet, at most (10 × 10). */
const SHEET_SIDE = 10;

/** The WebVTT file of seek-bar previews: one cue per thumbnail, pointing at its tile of a sprite sheet. */
export const STORYBOARD_NAME = 'storyboard.vtt';

export const thumbnailsParams = z.strictObject({
  ...samplingParams,
  thumbnail_width: z.number().int().min(16).max(3840).default(320).describe('width of each thumbnail in pixels; the height keeps the aspect ratio'),
  sprite_width: z.number().int().min(16).max(1024).default(160).describe('width of each cell of the sprite sheet'),
});

/** The grid of a sprite sheet for `count` thumbnails: at most 10 × 10, no empty rows. */
export function spriteGrid(count: number | null): { columns: number; rows: number } {
  const n = Math.max(1, count ?? SHEET_SIDE * SHEET_SIDE);
  const columns = Math.min(SHEET_SIDE, n);
  return { columns, rows: Math.min(SHEET_SIDE, Math.ceil(n / columns)) };
}

/**
 * `thumbnails`: every frame_stride-th frame, up to max_frames, as JPEG artifacts, plus sprite sheets
 * (contact sheets) of up to 100 thumbnails each, and a storyboard (`storyboard.vtt`) that maps each
 * stretch of the video to its tile. One ffmpeg pass decodes the video once and writes the images;
 * `trim` stops decoding after the last frame that can be sampled.
 */
export const thumbnailsTool = defineTool({
  name: 'thumbnails',
  version: '1.1.0',
  description: 'JPEG thumbnails of every frame_stride-th frame (up to max_frames), sprite sheets of them and a WebVTT storyboard for seek-bar previews',
  params: thumbnailsParams,
  async run(ctx) {
    const media = mediaOf(ctx);
    const sampling = { stride: ctx.params.frame_stride, maxFrames: ctx.params.max_frames };
    const { args, grid, printed } = thumbnailsCommand(ctx.inputPath, ctx.workDir, ctx.params, media.frameCount);
    // ffmpeg numbers its files 1, 2, 3 ...; the artifact is named after the frame index. The
    // thumbnails are uploaded while ffmpeg still decodes (each once the next one is written), the
    // rest after it, then the sheets and the storyboard beside the last ones: uploads overlap, and
    // the artifact list keeps the order they were started in (thumbnails, sheets, storyboard).
    const expected = expectedSamples(sampling, media.frameCount) ?? sampling.maxFrames;
    const thumbs = new ImageSequenceUploads(ctx.artifacts, ctx.workDir, 'thumb', 'image/jpeg', (n) => frameName('thumb', (n - 1) * sampling.stride, 'jpg'), expected, UPLOADS_AT_ONCE);
    try {
      thumbs.watch();
      await ctx.tools.ffmpeg(args, { onProgress: sampledProgress(ctx, media, sampling) });
      const samples = parseMetadataPrint(await readFile(printed, 'utf8'));
      const frames: FrameOutput[] = samples.map((sample) => {
        const index = sample.frame * sampling.stride;
        return { frame_index: index, timestamp: seconds(sample.ptsTime), thumbnail: frameName('thumb', index, 'jpg') };
      });
      const files = samples.map((sample) => sample.frame + 1);
      const uploads = thumbs.uploadAll(files);
      const strays = thumbs.strays(new Set(files));
      if (strays.length > 0) throw new ToolError(ErrorCode.ToolFailed, `ffmpeg wrote thumbnail file ${strays[0]}, for which it printed no sample`, false);
      const sheets = Array.from({ length: Math.ceil(samples.length / (grid.columns * grid.rows)) }, (_, i) => `sprite-${String(i + 1).padStart(3, '0')}.jpg`);
      await uploads.started;
      // At most ten sheets (1000 samples): all at once.
      const sheetUploads = Promise.all(sheets.map((name) => ctx.artifacts.putFile(name, join(ctx.workDir, name), 'image/jpeg')));
      sheetUploads.catch(() => undefined);
      // The cells' real size, measured on the sheets: `scale=W:-2` rounds the height as ffmpeg sees fit.
      const layouts: SheetLayout[] = await Promise.all(
        sheets.map(async (name) => ({ name, ...grid, ...cellSize(await imageSizeFromFile(join(ctx.workDir, name)), grid) })),
      );
      const storyboard = join(ctx.workDir, STORYBOARD_NAME);
      await writeFile(storyboard, storyboardVtt(storyboardCues(frames.map((f) => f.timestamp), media.durationSec, layouts)));
      await Promise.all([uploads.done, sheetUploads, ctx.artifacts.putFile(STORYBOARD_NAME, storyboard, 'text/vtt')]);
      return {
        summary: { thumbnail_count: frames.length, sprite_count: sheets.length },
        frames,
        data: {
          thumbnails: frames.map((f) => f.thumbnail),
          sprites: sheets,
          sprite_grid: { columns: grid.columns, rows: grid.rows, cell_width: ctx.params.sprite_width, per_sheet: grid.columns * grid.rows },
          storyboard: STORYBOARD_NAME,
        },
      };
    } finally {
      // Nothing of this attempt may still be uploading when it ends, failed or not.
      await thumbs.settle();
    }
  },
});

/**
 * The one ffmpeg command of the tool (without the binary and the logging options): thumbnails and
 * sprite sheets from a single decode. Exported so a benchmark can run the very same command raw.
 */
export function thumbnailsCommand(inputPath: string, workDir: string, params: z.output<typeof thumbnailsParams>, frameCount: number | null) {
  const sampling = { stride: params.frame_stride, maxFrames: params.max_frames };
  const grid = spriteGrid(Math.min(params.max_frames, frameCount === null ? params.max_frames : Math.ceil(frameCount / sampling.stride)));
  const printed = join(workDir, 'thumbnails.txt');
  const graph =
    `[0:v]${samplingFilter(sampling)},metadata=mode=add:key=fw.sample:value=1,metadata=mode=print:file=${filterPath(printed)},` +
    `scale=${params.thumbnail_width}:-2,split=2[thumbs][cells];` +
    `[cells]scale=${params.sprite_width}:-2,tile=${grid.columns}x${grid.rows}[sheets]`;
  const args = ['-i', inputPath, '-filter_complex', graph,
    '-map', '[thumbs]', '-fps_mode', 'passthrough', '-q:v', '3', join(workDir, 'thumb-%06d.jpg'),
    '-map', '[sheets]', '-fps_mode', 'passthrough', '-q:v', '4', join(workDir, 'sprite-%03d.jpg')];
  return { args, grid, printed };
}

/** A path inside a filter graph: ':' and '\' and quotes must be escaped. */
export function filterPath(path: string): string {
  return `'${path.replace(/\\/g, '/').replace(/'/g, "'\\''").replace(/:/g, '\\:')}'`;
}
