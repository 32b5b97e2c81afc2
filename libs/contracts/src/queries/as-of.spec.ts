import { describe, expect, it } from '@jest/globals';
import { formatAsOf, parseAsOf } from './as-of.js';

describe('as-of points', () => {
  it.each([
    ['1', { kind: 'event', number: 1 }],
    ['42', { kind: 'event', number: 42 }],
    ['seq:0', { kind: 'seq', seq: 0 }],
    ['SEQ:917', { kind: 'seq', seq: 917 }],
    ['2026-11-24T10:00:00Z', { kind: 'time', at: new Date('2026-11-24T10:00:00.000Z') }],
    ['2026-11-24T10:00:00.123+02:00', { kind: 'time', at: new Date('2026-11-24T08:00:00.123Z') }],
    ['2026-11-24T10:00:00', { kind: 'time', at: new Date('2026-11-24T10:00:00.000Z') }],
    ['2026-11-24', { kind: 'time', at: new Date('2026-11-24T00:00:00.000Z') }],
  ])('reads %s', (text, point) => {
    expect(parseAsOf(text)).toEqual({ ok: true, point });
  });

  it.each(['0', '-1', 'seq:', 'seq:-3', 'yesterday', '2026-13-45T99:00:00Z', '1.5', '', '99999999999999999999'])(
    'rejects %j with the syntax in the reason',
    (text) => {
      const parsed = parseAsOf(text);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.reason).toContain('seq:N');
    },
  );

  it('formats a point so that it reads back the same', () => {
    for (const text of ['3', 'seq:12', '2026-11-24T10:00:00.000Z']) {
      const parsed = parseAsOf(text);
      if (!parsed.ok) throw new Error(parsed.reason);
      expect(formatAsOf(parsed.point)).toBe(text);
    }
  });
});
