import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { cleanJson, cleanText, findUncleanText, isCleanText, mayHoldUncleanText } from './clean-text.js';

/** Strings built to hurt: lone surrogates, NUL and controls, bidi overrides, text that looks like JSON escapes, pairs to cut. */
const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('\ud83d', '\ude00', '\ud83d\ude00', '\u0000', '\u202e', '\u2066', '\n', '\t', '\u0007', '\u007f', 'a', 'é', '\\u0000', '\\ud800', '"'), maxLength: 60 }),
  fc.constantFrom('\ud83d', '\ude00', '\u0000', `${'a'.repeat(254)}\ud83d\ude00.mp4`, '\\u0000', '\\ud83d', '\u202egpj.exe'),
);

const HIGH = /[\ud800-\udbff]$/;

describe('cleanText', () => {
  it('makes any string clean: well-formed, no NUL, no other C0 control but tab and line breaks', () => {
    fc.assert(
      fc.property(hostile, (value) => {
        const clean = cleanText(value);
        expect(isCleanText(clean)).toBe(true);
        expect(clean).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/);
        // Nothing else changes: every lone surrogate became U+FFFD, every control removed.
        expect(clean).toBe(value.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd').replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, ''));
      }),
      { numRuns: 2000 },
    );
  });

  it('cuts at a code point boundary, never inside a surrogate pair, and never longer than asked', () => {
    fc.assert(
      fc.property(hostile, fc.integer({ min: 0, max: 300 }), (value, maxLength) => {
        const clean = cleanText(value, { maxLength });
        expect(clean.length).toBeLessThanOrEqual(maxLength);
        expect(isCleanText(clean)).toBe(true);
        expect(cleanText(value).startsWith(clean)).toBe(true);
        // At most one code unit short of the limit: the high half of a pair that did not fit.
        expect(clean.length).toBeGreaterThanOrEqual(Math.min(cleanText(value).length, maxLength - 1));
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps a 255-character name that ends inside an emoji whole up to the emoji', () => {
    const name = `${'a'.repeat(254)}\ud83d\ude00.mp4`;
    expect(cleanText(name, { maxLength: 255 })).toBe('a'.repeat(254));
    expect(HIGH.test(name.slice(0, 255))).toBe(true); // what a plain slice does
  });

  it('on one line, removes every control, C1 control and bidirectional override or isolate', () => {
    expect(cleanText('evil\u202egpj.exe', { oneLine: true })).toBe('evilgpj.exe');
    expect(cleanText('a\tb\nc\r\u0085d\u2067e\u200ff', { oneLine: true })).toBe('abcdef');
    expect(cleanText('a\tb\nc\u202e', {})).toBe('a\tb\nc\u202e');
  });

  it('is idempotent and leaves clean text alone', () => {
    fc.assert(
      fc.property(hostile, fc.boolean(), (value, oneLine) => {
        const once = cleanText(value, { oneLine });
        expect(cleanText(once, { oneLine })).toBe(once);
      }),
    );
    expect(cleanText('clip 😀 émoji.mp4')).toBe('clip 😀 émoji.mp4');
  });
});

describe('findUncleanText and cleanJson', () => {
  const json = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      hostile,
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(hostile, tie('value'), { maxKeys: 4 }),
    ),
  })).value;

  it('finds a string or a key that is not clean, at any depth, and says where', () => {
    expect(findUncleanText({ a: [1, { b: 'x\u0000' }] })).toBe('a.1.b');
    expect(findUncleanText({ a: { ['k\ud800']: 1 } })).toBe('a.k\ufffd (key)');
    expect(findUncleanText({ a: ['fine', 'é😀'] })).toBeNull();
    expect(findUncleanText('\udc00')).toBe('(root)');
  });

  it('cleans every string and key of a JSON value, and a JSON text of the result is clean', () => {
    fc.assert(
      fc.property(json, (value) => {
        const clean = cleanJson(value);
        expect(findUncleanText(clean)).toBeNull();
        if (findUncleanText(value) === null) expect(clean).toBe(value); // the same value, not a copy
        expect(findUncleanText(JSON.parse(JSON.stringify(clean)))).toBeNull();
      }),
      { numRuns: 1000 },
    );
  });

  it('never lets a "__proto__" key change what an object is', () => {
    const value = JSON.parse('{"__proto__":{"admin":true},"x\\u0000":1}') as Record<string, unknown>;
    const clean = cleanJson(value) as Record<string, unknown>;
    expect(Object.getPrototypeOf(clean)).toBe(Object.prototype);
    expect(Object.keys(clean)).toEqual(['__proto__', 'x']);
    expect((clean as { admin?: boolean }).admin).toBeUndefined();
  });

  it('tells from a JSON text whether it may hold unclean text (only an escape can put it there)', () => {
    fc.assert(
      fc.property(json, (value) => {
        const text = JSON.stringify(value);
        if (!mayHoldUncleanText(text)) expect(findUncleanText(JSON.parse(text))).toBeNull();
      }),
      { numRuns: 1000 },
    );
    expect(mayHoldUncleanText('{"a":"\\u0000"}')).toBe(true);
    expect(mayHoldUncleanText('{"a":"\\uD83D"}')).toBe(true);
    expect(mayHoldUncleanText('{"a":"😀 \\n"}')).toBe(false);
  });
});
