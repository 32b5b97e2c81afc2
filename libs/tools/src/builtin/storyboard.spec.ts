import { describe, expect, it } from '@jest/globals';
import webvtt from 'webvtt-parser';
import { cellSize, storyboardCues, storyboardVtt, vttTimestamp, webVtt, type SheetLayout } from './storyboard.js';

const sheet = (name: string, columns: number, rows: number, cellWidth = 160, cellHeight = 90): SheetLayout => ({ name, columns, rows, cellWidth, cellHeight });

describe('WebVTT timestamps', () => {
  it.each([
    [0, '00:00:00.000'],
    [1, '00:00:00.001'],
    [999.6, '00:00:01.000'],
    [61_234, '00:01:01.234'],
    [3_599_999, '00:59:59.999'],
    [3_600_000, '01:00:00.000'],
    [(99 * 3600 + 59 * 60 + 59) * 1000 + 999, '99:59:59.999'],
    [100 * 3_600_000, '100:00:00.000'],
    [-5, '00:00:00.000'],
  ])('%d ms is %s', (ms, text) => {
    expect(vttTimestamp(ms)).toBe(text);
  });
});

describe('a WebVTT file', () => {
  it('starts with WEBVTT and a blank line, and ends each cue with one', () => {
    expect(webVtt([{ startMs: 0, endMs: 1500, text: 'a' }, { startMs: 1500, endMs: 3000, text: 'b' }])).toBe(
      'WEBVTT\n\n00:00:00.000 --> 00:00:01.500\na\n\n00:00:01.500 --> 00:00:03.000\nb\n',
    );
    expect(webVtt([])).toBe('WEBVTT\n');
  });
});

describe('the cells of a sprite sheet', () => {
  it('are the sheet divided by its grid, measured rather than assumed', () => {
    // scale=160:-2 of a 180x320 portrait video: 160x284, not 160x284.4.
    expect(cellSize({ width: 1600, height: 2840 }, { columns: 10, rows: 10 })).toEqual({ cellWidth: 160, cellHeight: 284 });
    expect(cellSize({ width: 7 * 160, height: 120 }, { columns: 7, rows: 1 })).toEqual({ cellWidth: 160, cellHeight: 120 });
  });

  it('refuse a sheet that is not the grid it should be', () => {
    expect(() => cellSize({ width: 1601, height: 900 }, { columns: 10, rows: 10 })).toThrow('1601x900 does not divide into 10x10 cells');
  });
});

describe('storyboard cues', () => {
  it('give each sample its tile, row by row, from its timestamp to the next one, the last to the end of the video', () => {
    const cues = storyboardCues([0, 1.2, 2.4, 3.6, 4.8], 5.04, [sheet('sprite-001.jpg', 3, 2)]);
    expect(cues).toEqual([
      { startMs: 0, endMs: 1200, sheet: 'sprite-001.jpg', x: 0, y: 0, width: 160, height: 90 },
      { startMs: 1200, endMs: 2400, sheet: 'sprite-001.jpg', x: 160, y: 0, width: 160, height: 90 },
      { startMs: 2400, endMs: 3600, sheet: 'sprite-001.jpg', x: 320, y: 0, width: 160, height: 90 },
      { startMs: 3600, endMs: 4800, sheet: 'sprite-001.jpg', x: 0, y: 90, width: 160, height: 90 },
      { startMs: 4800, endMs: 5040, sheet: 'sprite-001.jpg', x: 160, y: 90, width: 160, height: 90 },
    ]);
  });

  it('go on to the next sheet when one is full', () => {
    const times = Array.from({ length: 101 }, (_, i) => i);
    const cues = storyboardCues(times, 101, [sheet('sprite-001.jpg', 10, 10), sheet('sprite-002.jpg', 10, 10)]);
    expect(cues[99]).toMatchObject({ sheet: 'sprite-001.jpg', x: 1440, y: 810, startMs: 99_000, endMs: 100_000 });
    expect(cues[100]).toMatchObject({ sheet: 'sprite-002.jpg', x: 0, y: 0, startMs: 100_000, endMs: 101_000 });
    expect(() => storyboardCues(times, 101, [sheet('sprite-001.jpg', 10, 10)])).toThrow('sample 100 is on no sprite sheet');
  });

  it('start at 0 and always move on, whatever the first frame\'s timestamp and the order of the others', () => {
    const cues = storyboardCues([0.033, 1.033, 0.9, 1.033, 2.033], 3, [sheet('s.jpg', 5, 1)]);
    expect(cues.map((c) => [c.startMs, c.endMs])).toEqual([
      [0, 1033],
      [1033, 1034],
      [1034, 1035],
      [1035, 2033],
      [2033, 3000],
    ]);
  });

  it('end the last cue after the last sample when the duration is unknown or says the video is shorter', () => {
    const sheets = [sheet('s.jpg', 3, 1)];
    expect(storyboardCues([0, 1, 2], 1, sheets).at(-1)).toMatchObject({ startMs: 2000, endMs: 3000 });
    expect(storyboardCues([0, 0.5, 2], null, sheets).at(-1)).toMatchObject({ startMs: 2000, endMs: 3500 });
    expect(storyboardCues([0], null, sheets)).toEqual([expect.objectContaining({ startMs: 0, endMs: 1000 })]);
    expect(storyboardCues([0], 0.04, sheets)).toEqual([expect.objectContaining({ startMs: 0, endMs: 40 })]);
    expect(storyboardCues([], 10, sheets)).toEqual([]);
  });

  it('are written as a WebVTT file whose payloads name the sheet and the tile', () => {
    const vtt = storyboardVtt(storyboardCues([0, 2], 3.5, [sheet('sprite-001.jpg', 2, 1, 160, 284)]));
    expect(vtt).toBe('WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nsprite-001.jpg#xywh=0,0,160,284\n\n00:00:02.000 --> 00:00:03.500\nsprite-001.jpg#xywh=160,0,160,284\n');
  });

  it('read back as the same cues, without an error, by the W3C\'s WebVTT parser and validator', () => {
    const cues = storyboardCues([0, 0.5, 61.25, 3601.5], 3700.123, [sheet('sprite-001.jpg', 2, 1), sheet('sprite-002.jpg', 2, 1)]);
    const parsed = new webvtt.WebVTTParser().parse(storyboardVtt(cues), 'metadata');
    expect(parsed.errors).toEqual([]);
    expect(parsed.cues.map((c) => [c.startTime, c.endTime, c.text])).toEqual([
      [0, 0.5, 'sprite-001.jpg#xywh=0,0,160,90'],
      [0.5, 61.25, 'sprite-001.jpg#xywh=160,0,160,90'],
      [61.25, 3601.5, 'sprite-002.jpg#xywh=0,0,160,90'],
      [3601.5, 3700.123, 'sprite-002.jpg#xywh=160,0,160,90'],
    ]);
  });
});
