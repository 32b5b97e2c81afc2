/**
 * Storyboards: the WebVTT file that players read for seek-bar previews. Each cue covers a stretch of
 * the video and points at one tile of a sprite sheet (`sprite-001.jpg#xywh=x,y,w,h`). Pure: the
 * thumbnails tool measures the sheets and hands the figures in.
 */

/** A sprite sheet as written: its name, its grid and the size of one cell in pixels. */
export interface SheetLayout {
  name: string;
  columns: number;
  rows: number;
  cellWidth: number;
  cellHeight: number;
}

/** One tile shown from `startMs` to `endMs` (milliseconds from the start of the video). */
export interface StoryboardCue {
  startMs: number;
  endMs: number;
  sheet: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The size of one cell of a sheet of `columns` × `rows` cells that measures `width` × `height`
 * pixels (ffmpeg's `tile` filter puts them side by side with no padding or margin). Throws when the
 * sheet does not divide into whole cells: then the sheet is not the grid it was asked to be.
 */
export function cellSize(sheet: { width: number; height: number }, grid: { columns: number; rows: number }): { cellWidth: number; cellHeight: number } {
  if (sheet.width % grid.columns !== 0 || sheet.height % grid.rows !== 0) {
    throw new Error(`a sprite sheet of ${sheet.width}x${sheet.height} does not divide into ${grid.columns}x${grid.rows} cells`);
  }
  return { cellWidth: sheet.width / grid.columns, cellHeight: sheet.height / grid.rows };
}

/**
 * One cue per sample, in order. Sample k is the k-th tile across the sheets, row by row (the order
 * ffmpeg's `tile` fills them in); its cue runs from its timestamp to the next sample's, and the last
 * one's to the end of the video. The first cue starts at 0, so the whole video is covered from its
 * start, and every cue lasts at least a millisecond (WebVTT wants each to end after it starts): a
 * sample whose timestamp is not after the one before it starts a millisecond after that one. When
 * the duration is unknown or not after the last sample (a header that lies), the last cue lasts as
 * long as the one before it, or a second when it is the only one.
 */
export function storyboardCues(timesSec: readonly number[], durationSec: number | null, sheets: readonly SheetLayout[]): StoryboardCue[] {
  const starts: number[] = [];
  for (const [k, time] of timesSec.entries()) starts.push(k === 0 ? 0 : Math.max(starts[k - 1]! + 1, toMs(time)));
  const last = starts.length - 1;
  const durationMs = durationSec === null || !Number.isFinite(durationSec) ? null : toMs(durationSec);
  return starts.map((startMs, k) => {
    const endMs = k < last ? starts[k + 1]! : durationMs !== null && durationMs > startMs ? durationMs : startMs + (k > 0 ? startMs - starts[k - 1]! : 1000);
    return { startMs, endMs, ...tileOf(k, sheets) };
  });
}

/** Where the k-th sample is: its sheet and its pixel rectangle there. */
function tileOf(k: number, sheets: readonly SheetLayout[]): Omit<StoryboardCue, 'startMs' | 'endMs'> {
  let index = k;
  for (const sheet of sheets) {
    const perSheet = sheet.columns * sheet.rows;
    if (index < perSheet) {
      const column = index % sheet.columns;
      const row = Math.floor(index / sheet.columns);
      return { sheet: sheet.name, x: column * sheet.cellWidth, y: row * sheet.cellHeight, width: sheet.cellWidth, height: sheet.cellHeight };
    }
    index -= perSheet;
  }
  throw new Error(`sample ${k} is on no sprite sheet (${sheets.length} sheets)`);
}

/** The storyboard as a WebVTT file: one cue per tile, its payload `<sheet>#xywh=x,y,w,h`. */
export function storyboardVtt(cues: readonly StoryboardCue[]): string {
  return webVtt(cues.map((c) => ({ startMs: c.startMs, endMs: c.endMs, text: `${c.sheet}#xywh=${c.x},${c.y},${c.width},${c.height}` })));
}

/** A WebVTT file: the `WEBVTT` line, then each cue's timings and text, with a blank line before each. */
export function webVtt(cues: ReadonlyArray<{ startMs: number; endMs: number; text: string }>): string {
  return ['WEBVTT', '', ...cues.flatMap((c) => [`${vttTimestamp(c.startMs)} --> ${vttTimestamp(c.endMs)}`, c.text, ''])].join('\n');
}

/** `HH:MM:SS.mmm` (hours grow past two digits when they must). */
export function vttTimestamp(ms: number): string {
  const whole = Math.max(0, Math.round(ms));
  const pad = (n: number, width: number) => String(n).padStart(width, '0');
  const hours = Math.floor(whole / 3_600_000);
  const minutes = Math.floor(whole / 60_000) % 60;
  const seconds = Math.floor(whole / 1000) % 60;
  return `${pad(hours, 2)}:${pad(minutes, 2)}:${pad(seconds, 2)}.${pad(whole % 1000, 3)}`;
}

function toMs(seconds: number): number {
  return Number.isFinite(seconds) ? Math.round(seconds * 1000) : 0;
}
