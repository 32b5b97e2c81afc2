/**
 * Clean text: the one rule for every string that enters an event, and the one helper that makes a
 * string follow it.
 *
 * A string is clean when it is well-formed Unicode (no lone UTF-16 surrogate: the high half of an
 * emoji without its low half, say) and holds no NUL. JavaScript strings may hold both; JSON.stringify
 * writes them as `\ud83d` and `\u0000` escapes; PostgreSQL refuses both in `text` and `jsonb`
 * ("invalid input syntax for type json", "unsupported Unicode escape sequence"). One such string in
 * an event once stopped the read model for every tenant, so:
 * - the edges clean or refuse what comes in (file names and error messages are cleaned with
 *   `cleanText`, tool results with `cleanJson`; identifiers and params are refused with
 *   `findUncleanText` or `isCleanText`);
 * - `encodeEvent` refuses an event that is not clean, so none reaches the log;
 * - `decodeEvent` cleans what a release before this rule may have stored, as it upcasts old versions.
 */

/** A UTF-16 code unit of a surrogate pair that has no partner. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');
/** NUL and the C0 controls that have no place in text, and DEL; tab, line feed and carriage return stay. */
const CONTROLS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;
/** For one-line text: every C0 and C1 control, and the marks, embeddings, overrides and isolates of bidirectional text. */
const ONE_LINE_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** In a JSON text, the only ways to write a NUL or a surrogate: every unclean string of a parsed JSON text comes from one. */
const SUSPECT_ESCAPE = /\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/** What a string that is not clean gets as the reason in error messages and malformed-event reports. */
export const UNCLEAN_TEXT = 'text is not well-formed Unicode (a lone UTF-16 surrogate) or holds NUL';

/** True for well-formed Unicode without NUL: what PostgreSQL, JSON consumers and browsers all take. */
export function isCleanText(value: string): boolean {
  return !value.includes('\u0000') && !LONE_SURROGATE.test(value);
}

export interface CleanTextOptions {
  /** At most this many UTF-16 code units; a cut never falls inside a surrogate pair. */
  maxLength?: number;
  /**
   * For text shown on one line (file names): every control character, line breaks and tabs
   * included, and the bidirectional marks, overrides and isolates (which can make `exe.mp4` read as
   * `mp4.exe`) are removed too.
   */
  oneLine?: boolean;
}

/**
 * The clean form of any string: each lone surrogate becomes U+FFFD (the replacement character), NUL
 * and the other C0 controls except tab, line feed and carriage return are removed (with `oneLine`,
 * those too, and bidirectional controls), then the text is cut to `maxLength` at a code point
 * boundary. Clean text comes back unchanged; cleaning twice changes nothing more.
 */
export function cleanText(value: string, options: CleanTextOptions = {}): string {
  let text = value.replace(LONE_SURROGATES, '\ufffd').replace(options.oneLine ? ONE_LINE_CONTROLS : CONTROLS, '');
  const max = options.maxLength;
  if (max !== undefined && text.length > max) {
    // A well-formed text has a high surrogate at max-1 only as the first half of a pair that the cut would split.
    const end = max > 0 && isHighSurrogate(text.charCodeAt(max - 1)) ? max - 1 : max;
    text = text.slice(0, Math.max(0, end));
  }
  return text;
}

/**
 * A JSON value (a tool's result, say) with cleanText applied to every string and every object key,
 * at any depth. A value that is clean already comes back as it is (the same object).
 */
export function cleanJson<T>(value: T): T {
  return cleanValue(value, new WeakSet()) as T;
}

function cleanValue(value: unknown, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return isCleanText(value) ? value : cleanText(value);
  if (value === null || typeof value !== 'object' || seen.has(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) {
    let changed = false;
    const items = value.map((item) => {
      const clean = cleanValue(item, seen);
      if (clean !== item) changed = true;
      return clean;
    });
    return changed ? items : value;
  }
  // Objects that serialize themselves (a Date) are left to do so.
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  let changed = false;
  const entries = Object.entries(value).map(([key, item]): [string, unknown] => {
    const cleanKey = isCleanText(key) ? key : cleanText(key);
    const clean = cleanValue(item, seen);
    if (cleanKey !== key || clean !== item) changed = true;
    return [cleanKey, clean];
  });
  // fromEntries defines own properties: a "__proto__" key stays a key and never becomes a prototype.
  return changed ? Object.fromEntries(entries) : value;
}

/**
 * Where the first string or object key that is not clean sits in a value (`data.video.filename`,
 * `params.label (key)`), or null when every one is clean. The path is shown cleaned.
 */
export function findUncleanText(value: unknown): string | null {
  const found = findIn(value, [], new WeakSet());
  return found === null ? null : found.length === 0 ? '(root)' : found.map((part) => cleanText(part, { oneLine: true, maxLength: 64 })).join('.').replace(/\.(\(key\))$/, ' $1');
}

function findIn(value: unknown, path: string[], seen: WeakSet<object>): string[] | null {
  if (typeof value === 'string') return isCleanText(value) ? null : path;
  if (value === null || typeof value !== 'object' || seen.has(value)) return null;
  seen.add(value);
  const entries: Array<[string, unknown]> = Array.isArray(value) ? value.map((item, i) => [String(i), item]) : Object.entries(value);
  for (const [key, item] of entries) {
    if (!isCleanText(key)) return [...path, key, '(key)'];
    const found = findIn(item, [...path, key], seen);
    if (found) return found;
  }
  return null;
}

/**
 * False when a JSON text cannot hold a string that is not clean once parsed: a NUL or a surrogate can
 * only be written in JSON as an escape (valid UTF-8 has no surrogates, and JSON forbids raw control
 * characters in strings). A cheap test before a walk over the parsed value; true may be a false alarm
 * (an escaped backslash, a well-formed pair written as escapes).
 */
export function mayHoldUncleanText(json: string): boolean {
  return SUSPECT_ESCAPE.test(json);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
