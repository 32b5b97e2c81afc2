import { describe, expect, it } from '@jest/globals';
import { decodeCursor, encodeCursor, InvalidCursorError } from './job-read.repository.js';

describe('list cursors', () => {
  it('round-trips the position of the last row of a page', () => {
    const createdAt = new Date('2026-11-24T10:00:00.123Z');
    const jobId = '0193a6f0-0000-7000-8000-000000000001';
    expect(decodeCursor(encodeCursor(createdAt, jobId))).toEqual({ createdAt: createdAt.toISOString(), jobId });
  });

  it.each([
    ['not base64 json', 'bm9wZQ'],
    ['an empty string', ''],
    ['a wrong shape', Buffer.from(JSON.stringify({ a: 1 })).toString('base64url')],
    ['a bad date', Buffer.from(JSON.stringify(['yesterday', '0193a6f0-0000-7000-8000-000000000001'])).toString('base64url')],
    ['a bad id', Buffer.from(JSON.stringify(['2026-11-24T10:00:00.000Z', "x' OR 1=1"])).toString('base64url')],
  ])('rejects %s', (_, cursor) => {
    expect(() => decodeCursor(cursor)).toThrow(InvalidCursorError);
  });
});
