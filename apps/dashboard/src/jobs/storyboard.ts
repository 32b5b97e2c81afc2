import webvtt from 'webvtt-parser';

/** One tile of a storyboard: the stretch of the video it shows, and where it is on which sheet. */
export interface StoryboardTile {
  start: number;
  end: number;
  /** The sheet's artifact name, as the cue names it (`sprite-001.jpg`). */
  sheet: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** `sprite-001.jpg#xywh=160,0,160,90`: a sheet and a pixel rectangle on it (media fragment syntax). */
const TILE = /^([^#\s]+)#xywh=(?:pixel:)?(\d+),(\d+),(\d+),(\d+)$/;

/**
 * The tiles of a storyboard.vtt (the `thumbnails` tool's seek-bar previews), read by the W3C's WebVTT
 * parser, in time order. Cues whose payload is not `<sheet>#xywh=x,y,w,h`, or whose sheet is not
 * among `sheets` (the job's artifacts), are left out.
 */
export function parseStoryboard(vtt: string, sheets: ReadonlySet<string>): StoryboardTile[] {
  const { cues } = new webvtt.WebVTTParser().parse(vtt, 'metadata');
  const tiles: StoryboardTile[] = [];
  for (const cue of cues) {
    const match = TILE.exec(cue.text.trim());
    if (!match || !sheets.has(match[1]!) || !(cue.endTime > cue.startTime)) continue;
    const [x, y, width, height] = match.slice(2).map(Number) as [number, number, number, number];
    if (width === 0 || height === 0) continue;
    tiles.push({ start: cue.startTime, end: cue.endTime, sheet: match[1]!, x, y, width, height });
  }
  return tiles.sort((a, b) => a.start - b.start);
}

/**
 * The tile shown at `time` seconds: the last one that starts at or before it, as long as `time` is
 * before its end (the end of the last tile still shows it); null in a gap, before the first or after
 * the last.
 */
export function tileAt(tiles: readonly StoryboardTile[], time: number): StoryboardTile | null {
  let low = 0;
  let high = tiles.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (tiles[mid]!.start <= time) {
      found = mid;
      low = mid + 1;
    } else high = mid - 1;
  }
  if (found < 0) return null;
  const tile = tiles[found]!;
  return time < tile.end || (found === tiles.length - 1 && time === tile.end) ? tile : null;
}

/** The time under a pointer at `offsetX` of a bar `width` pixels wide standing for `duration` seconds. */
export function timeAtOffset(offsetX: number, width: number, duration: number): number {
  if (!(width > 0) || !(duration > 0)) return 0;
  return Math.min(duration, Math.max(0, (offsetX / width) * duration));
}
