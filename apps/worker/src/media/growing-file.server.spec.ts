import { describe, expect, it } from '@jest/globals';
import { parseRange } from './growing-file.server.js';

describe('the Range header, as ffmpeg sends it', () => {
  it.each([
    [undefined, null],
    ['bytes=0-', { start: 0, end: 999 }],
    ['bytes=100-199', { start: 100, end: 199 }],
    ['bytes=900-5000', { start: 900, end: 999 }],
    ['bytes=-100', { start: 900, end: 999 }],
    ['bytes=-5000', { start: 0, end: 999 }],
    ['bytes=1000-', 'unsatisfiable'],
    ['bytes=200-100', 'unsatisfiable'],
    ['bytes=-0', 'unsatisfiable'],
    ['bytes=-', 'unsatisfiable'],
    ['bytes=0-1,5-6', 'unsatisfiable'],
    ['items=0-1', 'unsatisfiable'],
  ])('%s of 1000 bytes', (header, expected) => {
    expect(parseRange(header, 1000)).toEqual(expected);
  });

  it('reads an empty file from its start as nothing', () => {
    expect(parseRange('bytes=0-', 0)).toEqual({ start: 0, end: -1 });
  });
});
