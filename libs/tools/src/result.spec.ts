import { describe, expect, it } from '@jest/globals';
import { assembleResult } from './result.js';
import { spriteGrid } from './builtin/thumbnails.tool.js';
import { expectedSamples, samplingFilter } from './builtin/sampling.js';

describe('a pipeline result', () => {
  it('merges frames by index across tools, keeps the first tool\'s summary keys, and counts frames', () => {
    const result = assembleResult(null, [
      { tool: { name: 'thumbnails', version: '1' }, durationMs: 10.4, output: { summary: { count: 2 }, frames: [{ frame_index: 30, timestamp: 1, thumbnail: 'b' }, { frame_index: 0, timestamp: 0, thumbnail: 'a' }] } },
      { tool: { name: 'stats', version: '2' }, durationMs: 5, output: { summary: { count: 9, black: 0 }, frames: [{ frame_index: 0, timestamp: 0.001, luma: 16 }], data: { x: 1 } } },
    ]);
    expect(result).toEqual({
      total_frames: null,
      frames: [{ frame_index: 0, timestamp: 0, thumbnail: 'a', luma: 16 }, { frame_index: 30, timestamp: 1, thumbnail: 'b' }],
      summary: { frame_count: 2, count: 2, black: 0 },
      tools: {
        thumbnails: { version: '1', duration_ms: 10, summary: { count: 2 } },
        stats: { version: '2', duration_ms: 5, summary: { count: 9, black: 0 }, data: { x: 1 } },
      },
    });
  });
});

describe('sampling', () => {
  it('selects every stride-th frame and stops decoding after the last one it can sample', () => {
    expect(samplingFilter({ stride: 10, maxFrames: 5 })).toBe("trim=end_frame=41,select='not(mod(n\\,10))'");
    expect(expectedSamples({ stride: 10, maxFrames: 5 }, 100)).toBe(5);
    expect(expectedSamples({ stride: 30, maxFrames: 50 }, 100)).toBe(4);
    expect(expectedSamples({ stride: 1, maxFrames: 5 }, null)).toBeNull();
  });

  it('lays sprites out in at most 10 x 10 cells, without empty rows', () => {
    expect(spriteGrid(1)).toEqual({ columns: 1, rows: 1 });
    expect(spriteGrid(7)).toEqual({ columns: 7, rows: 1 });
    expect(spriteGrid(23)).toEqual({ columns: 10, rows: 3 });
    expect(spriteGrid(500)).toEqual({ columns: 10, rows: 10 });
  });
});
