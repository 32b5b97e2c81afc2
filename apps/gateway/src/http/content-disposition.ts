import { create } from 'content-disposition';

/** The longest file name offered to a browser, in code points. */
const MAX_NAME_CODE_POINTS = 255;

/**
 * What a downloaded file's name must not carry: control characters (C0, DEL, C1), bidirectional
 * overrides and isolates (a name that reads backwards), and path separators.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069/\\]/;

/**
 * `Content-Disposition: inline` for a stored file name, whatever that name holds. The name comes from
 * an upload (or an old event, from before names were cleaned), so it may be anything: it is made
 * well-formed (a lone surrogate becomes U+FFFD), unsafe characters become `_`, it is cut to 255 code
 * points, and it is sent as RFC 6266 `filename*` (UTF-8, percent-encoded) with an ASCII `filename`
 * beside it for old clients (the `content-disposition` package, which Express uses). The header is
 * always plain ASCII, so it can never make the response fail.
 */
export function inlineDisposition(filename: string, fallbackName = 'download'): string {
  const name = safeFileName(filename) || fallbackName;
  const ascii = /^[\x20-\x7e]*$/.test(name);
  return create(name, { type: 'inline', fallback: ascii ? true : asciiFallback(name) || fallbackName });
}

/** The name with every code point kept that is safe in a downloaded file's name. */
export function safeFileName(filename: string): string {
  const points = Array.from(filename, (ch) => (isLoneSurrogate(ch) ? '\ufffd' : UNSAFE.test(ch) ? '_' : ch));
  return points.slice(0, MAX_NAME_CODE_POINTS).join('').trim();
}

/** An ASCII look-alike: accents dropped (é → e), anything else outside printable ASCII as `_`. */
function asciiFallback(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x20-\x7e]/gu, '_')
    .trim();
}

function isLoneSurrogate(ch: string): boolean {
  const code = ch.charCodeAt(0);
  return ch.length === 1 && code >= 0xd800 && code <= 0xdfff;
}
