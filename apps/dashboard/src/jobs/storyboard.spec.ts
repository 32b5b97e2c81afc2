import { describe, expect, it } from '@jest/globals';
import { clock } from '../ui/format';
import { parseStoryboard, tileAt, timeAtOffset } from './storyboard';

const VTT = [
  'WEBVTT',
  '',
  '00:00:00.000 --> 00:00:01.000',
  'sprite-001.jpg#xywh=0,0,160,90',
  '',
  '00:00:01.000 --> 00:00:02.500',
  'sprite-001.jpg#xywh=160,0,160,90',
  '',
  'note-like id',
  '00:00:02.500 --> 00:01:05.250',
  'sprite-002.jpg#xywh=0,90,160,90',
  '',
].join('\n');

describe('a storyboard read by the dashboard', () => {
  it('gives each cue its sheet and rectangle, in time order', () => {
    expect(parseStoryboard(VTT, new Set(['sprite-001.jpg', 'sprite-002.jpg']))).toEqual([
      { start: 0, end: 1, sheet: 'sprite-001.jpg', x: 0, y: 0, width: 160, height: 90 },
      { start: 1, end: 2.5, sheet: 'sprite-001.jpg', x: 160, y: 0, width: 160, height: 90 },
      { start: 2.5, end: 65.25, sheet: 'sprite-002.jpg', x: 0, y: 90, width: 160, height: 90 },
    ]);
  });

  it('leaves out cues on sheets the job does not have, payloads that are not tiles, and files that are not WebVTT', () => {
    expect(parseStoryboard(VTT, new Set(['sprite-001.jpg'])).map((t) => t.sheet)).toEqual(['sprite-001.jpg', 'sprite-001.jpg']);
    const odd = 'WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nhello\n\n00:00:01.000 --> 00:00:02.000\nsprite-001.jpg#xywh=0,0,0,90\n\n00:00:02.000 --> 00:00:03.000\nsprite-001.jpg#xywh=pixel:10,20,30,40\n';
    expect(parseStoryboard(odd, new Set(['sprite-001.jpg']))).toEqual([{ start: 2, end: 3, sheet: 'sprite-001.jpg', x: 10, y: 20, width: 30, height: 40 }]);
    expect(parseStoryboard('<html>not a storyboard</html>', new Set(['sprite-001.jpg']))).toEqual([]);
  });

  it('finds the tile of a time: from its start up to its end, the last one up to the end of the video', () => {
    const tiles = parseStoryboard(VTT, new Set(['sprite-001.jpg', 'sprite-002.jpg']));
    expect([0, 0.999, 1, 2.4999, 2.5, 65.25].map((t) => tileAt(tiles, t)?.x ?? null)).toEqual([0, 0, 160, 160, 0, 0]);
    expect([0, 1, 2.5].map((t) => tileAt(tiles, t)?.start)).toEqual([0, 1, 2.5]);
    expect(tileAt(tiles, 65.3)).toBeNull();
    expect(tileAt(tiles, -1)).toBeNull();
    expect(tileAt([], 0)).toBeNull();
    // A gap between two cues shows nothing.
    const gap = [tiles[0]!, { ...tiles[1]!, start: 1.5 }];
    expect(tileAt(gap, 1.2)).toBeNull();
  });

  it('turns a pointer position on the bar into a time, within the video', () => {
    expect(timeAtOffset(150, 600, 10)).toBe(2.5);
    expect(timeAtOffset(-5, 600, 10)).toBe(0);
    expect(timeAtOffset(700, 600, 10)).toBe(10);
    expect(timeAtOffset(10, 0, 10)).toBe(0);
    expect(timeAtOffset(10, 600, Number.NaN)).toBe(0);
  });

  it('shows times as players do', () => {
    expect([0, 2.5, 59.99, 65.25, 3599, 3600, 3725.4].map(clock)).toEqual(['0:00', '0:02', '0:59', '1:05', '59:59', '1:00:00', '1:02:05']);
  });
});
