import { describe, expect, it } from '@jest/globals';
import { selectBytes } from './byte-range.js';

const ETAG = '"abc123"';
const select = (conditions: Parameters<typeof selectBytes>[2], size = 1000) => selectBytes(size, ETAG, conditions, 'the file');
const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    const e = error as { code?: string; headers?: Record<string, string> };
    return { code: e.code, headers: e.headers };
  }
  return null;
};

describe('what part of a stored file a request gets', () => {
  it('sends the whole file without a Range, and one range cut to the file as 206', () => {
    expect(select({})).toEqual({ status: 200 });
    expect(select({ range: 'bytes=0-99' })).toEqual({ status: 206, start: 0, end: 99 });
    expect(select({ range: 'bytes=900-' })).toEqual({ status: 206, start: 900, end: 999 });
    expect(select({ range: 'bytes=-100' })).toEqual({ status: 206, start: 900, end: 999 });
    expect(select({ range: 'bytes=10-5000' })).toEqual({ status: 206, start: 10, end: 999 });
    // Adjacent ranges combine into one.
    expect(select({ range: 'bytes=0-9,10-19' })).toEqual({ status: 206, start: 0, end: 19 });
  });

  it('sends the whole file for several ranges, another unit, a malformed header or a stale If-Range', () => {
    expect(select({ range: 'bytes=0-9,50-59' })).toEqual({ status: 200 });
    expect(select({ range: 'items=0-9' })).toEqual({ status: 200 });
    expect(select({ range: 'bytes=abc' })).toEqual({ status: 200 });
    expect(select({ range: 'bytes=0-9', ifRange: '"other"' })).toEqual({ status: 200 });
    expect(select({ range: 'bytes=0-9', ifRange: ETAG })).toEqual({ status: 206, start: 0, end: 9 });
  });

  it('answers 416 with the size for a range that starts beyond the end', () => {
    expect(refusal(() => select({ range: 'bytes=1000-' }))).toEqual({ code: 'RANGE_NOT_SATISFIABLE', headers: { 'Content-Range': 'bytes */1000' } });
    expect(refusal(() => select({ range: 'bytes=0-0' }, 0))).toEqual({ code: 'RANGE_NOT_SATISFIABLE', headers: { 'Content-Range': 'bytes */0' } });
  });

  it('answers 304 when the caller has the current ETag, before any Range', () => {
    for (const ifNoneMatch of [ETAG, `W/${ETAG}`, `"x", ${ETAG}`, '*']) expect(select({ ifNoneMatch, range: 'bytes=0-9' })).toEqual({ status: 304 });
    expect(select({ ifNoneMatch: '"other"' })).toEqual({ status: 200 });
  });
});
