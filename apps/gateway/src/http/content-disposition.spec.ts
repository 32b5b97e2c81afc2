import { validateHeaderValue } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'content-disposition';
import { inlineDisposition, safeFileName } from './content-disposition.js';

/** What a browser makes of the header: `filename*` when it is there, else `filename`. */
function offeredName(header: string): string {
  const { parameters } = parse(header);
  return parameters['filename*'] !== undefined ? parameters['filename']! : parameters['filename']!;
}

/** The header is one line of printable ASCII that Node accepts as a header value. */
function expectSafe(header: string): void {
  expect(header).toMatch(/^inline; filename=/);
  expect(header).toMatch(/^[\x20-\x7e]+$/);
  expect(() => validateHeaderValue('Content-Disposition', header)).not.toThrow();
}

/** A deterministic stream of UTF-16 code units of every kind, surrogates and controls included. */
function* codeUnits(seed: number): Generator<number> {
  let state = seed;
  for (;;) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const pick = state % 6;
    const value = Math.floor(state / 6);
    yield [value % 0x20, 0xd800 + (value % 0x800), 0x20 + (value % 0x5f), 0x80 + (value % 0x80), 0x202a + (value % 5), value % 0x10000][pick]!;
  }
}

describe('inlineDisposition', () => {
  it.each([
    ['an ASCII name', 'clip.mp4', 'clip.mp4'],
    ['a Latin-1 name', 'vidéo.mp4', 'vidéo.mp4'],
    ['a Cyrillic name', 'видео.mp4', 'видео.mp4'],
    ['an emoji', '🎬 take 2.mp4', '🎬 take 2.mp4'],
    ['quotes and a backslash', 'a "quoted" \\ name.mp4', 'a "quoted" _ name.mp4'],
    ['CR LF and a header after it', 'a.mp4\r\nSet-Cookie: x=1', 'a.mp4__Set-Cookie: x=1'],
    ['NUL and other controls', 'a\u0000b\u0001c\u007f\u0085.mp4', 'a_b_c__.mp4'],
    ['a lone surrogate', 'a\ud83c.mp4', 'a\ufffd.mp4'],
    ['a right-to-left override', 'clip\u202e4pm.exe', 'clip_4pm.exe'],
    ['a path', '../../etc/passwd', '.._.._etc_passwd'],
    ['a percent sequence', '100%25.mp4', '100%25.mp4'],
  ])('%s', (_what, filename, offered) => {
    const header = inlineDisposition(filename);
    expectSafe(header);
    expect(offeredName(header)).toBe(offered);
  });

  it('gives old clients an ASCII look-alike in filename', () => {
    expect(inlineDisposition('vidéo 🎬.mp4')).toBe(`inline; filename="video _.mp4"; filename*=UTF-8''vid%C3%A9o%20%F0%9F%8E%AC.mp4`);
  });

  it('offers a default name when nothing of the name is left', () => {
    for (const empty of ['', '   ']) expect(offeredName(inlineDisposition(empty))).toBe('download');
    expect(offeredName(inlineDisposition('', 'video'))).toBe('video');
  });

  it('cuts a long name at 255 code points, never inside one', () => {
    const name = safeFileName('🎬'.repeat(300));
    expect(Array.from(name)).toHaveLength(255);
    expect(name).toBe('🎬'.repeat(255));
  });

  it('makes a safe header of any string at all', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const units = codeUnits(seed);
      const filename = String.fromCharCode(...Array.from({ length: 1 + (seed % 40) }, () => units.next().value as number));
      const header = inlineDisposition(filename);
      expectSafe(header);
      expect(offeredName(header)).toBe(safeFileName(filename) || 'download');
    }
  });
});
