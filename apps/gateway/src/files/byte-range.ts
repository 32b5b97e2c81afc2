import parseRange from 'range-parser';
import { ErrorCode } from '@app/contracts';
import { ApiError } from '../http/api-error.js';

/** The request headers that choose what part of a stored file is sent. */
export interface FileConditions {
  range?: string | undefined;
  ifNoneMatch?: string | undefined;
  ifRange?: string | undefined;
}

/** What to send of a stored file: nothing new (304), all of it (200), or one byte range (206). */
export type FileSelection = { status: 304 } | { status: 200 } | { status: 206; start: number; end: number };

/**
 * Decides what to send of a stored file of `size` bytes whose strong ETag is `etag` (quoted):
 * - `If-None-Match` naming the ETag (or `*`): 304, nothing is read;
 * - one `Range` (`bytes=0-99`, `bytes=100-`, `bytes=-500`): 206 with that range, cut to the file;
 *   several ranges, or a unit other than bytes, or an `If-Range` that is not the current ETag: the
 *   whole file (200), as RFC 9110 allows;
 * - a range that starts beyond the end: 416 RANGE_NOT_SATISFIABLE with `Content-Range: bytes *\/size`.
 * Pure, so every file route (the upload, the artifacts, the media-link path) answers the same way.
 */
export function selectBytes(size: number, etag: string, conditions: FileConditions, what: string): FileSelection {
  if (conditions.ifNoneMatch !== undefined && matchesEtag(conditions.ifNoneMatch, etag)) return { status: 304 };
  const header = conditions.range;
  if (!header) return { status: 200 };
  if (conditions.ifRange !== undefined && conditions.ifRange.trim() !== etag) return { status: 200 };
  const parsed = parseRange(size, header, { combine: true });
  if (parsed === -1) {
    throw new ApiError(ErrorCode.RangeNotSatisfiable, `the range ${header.slice(0, 100)} is outside the ${size} bytes of ${what}`, { 'Content-Range': `bytes */${size}` });
  }
  if (parsed === -2 || parsed.type !== 'bytes' || parsed.length !== 1) return { status: 200 };
  const [range] = parsed;
  return { status: 206, start: range!.start, end: range!.end };
}

/** Whether an If-None-Match value (`*`, or a list of possibly weak ETags) names `etag`. */
function matchesEtag(header: string, etag: string): boolean {
  const strong = etag.replace(/^W\//, '');
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t.replace(/^W\//, '') === strong;
  });
}
