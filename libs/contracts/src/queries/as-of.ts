/**
 * A point in a job's history, as `as_of` (HTTP) and `--as-of` (CLI) name it:
 *
 *   N          the job's N-th event (its aggregate version, 1-based: the `#` of the timeline).
 *              Stable whatever other jobs do, and across replays.
 *   seq:N      the global stream sequence N: the state after the job's last event with seq <= N.
 *   <ISO time> the state after the job's last event stored at or before that time. A time without
 *              a zone is read as UTC.
 */
export type AsOfPoint =
  | { kind: 'event'; number: number }
  | { kind: 'seq'; seq: number }
  | { kind: 'time'; at: Date };

export type AsOfParse = { ok: true; point: AsOfPoint } | { ok: false; reason: string };

export const AS_OF_SYNTAX = 'N (the job\'s N-th event), seq:N (stream sequence N) or an ISO-8601 time';

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;
const MAX = Number.MAX_SAFE_INTEGER;

export function parseAsOf(text: string): AsOfParse {
  const value = text.trim();
  const invalid = (why: string): AsOfParse => ({ ok: false, reason: `as-of "${text}" ${why}; use ${AS_OF_SYNTAX}` });
  if (/^\d+$/.test(value)) {
    const number = Number(value);
    if (number < 1 || number > MAX) return invalid('is not an event number (events are numbered from 1)');
    return { ok: true, point: { kind: 'event', number } };
  }
  const seq = /^seq:(\d+)$/i.exec(value);
  if (seq) {
    const n = Number(seq[1]);
    if (n > MAX) return invalid('is too large');
    return { ok: true, point: { kind: 'seq', seq: n } };
  }
  const time = ISO_TIME.exec(value);
  if (time) {
    const zoned = time[8] ? value : `${value}${time[4] ? '' : 'T00:00:00'}Z`;
    const at = new Date(zoned.replace(' ', 'T'));
    if (Number.isNaN(at.getTime())) return invalid('is not a valid time');
    return { ok: true, point: { kind: 'time', at } };
  }
  return invalid('is not a point');
}

/** The canonical text of a point, as parseAsOf reads it back. */
export function formatAsOf(point: AsOfPoint): string {
  switch (point.kind) {
    case 'event':
      return String(point.number);
    case 'seq':
      return `seq:${point.seq}`;
    case 'time':
      return point.at.toISOString();
  }
}
