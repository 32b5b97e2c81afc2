import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import type { AdoptedChunks } from '@app/blob-store';
import { cleanText, ErrorCode } from '@app/contracts';
import { ApiError } from '../http/api-error.js';

export interface FilePart {
  stream: Readable;
  filename: string;
  contentType: string;
  /** The text fields that came before the file part (more may follow it). */
  fieldsBefore: ReadonlyMap<string, string>;
  /**
   * The file is already in the video bucket as chunks (a completed resumable upload): it is adopted as
   * the object `uploads/<job>/<objectId>` instead of stored; `stream` reads it back for the checks.
   */
  stored?: AdoptedChunks & { objectId: string };
}

export interface MultipartLimits {
  /** The file part's maximum size in bytes: exceeding it aborts the upload with 413. */
  fileBytes: number;
  /** The maximum size of each text field. */
  fieldBytes: number;
}

export interface MultipartResult<T> {
  fields: Map<string, string>;
  /** What the sink returned for the `file` part, or null when there was none. */
  file: T | null;
}

/**
 * Reads a multipart/form-data body as it arrives. The one file part (named `fileField`) goes to
 * `sink` as a stream, never buffered whole; text fields are collected. If anything is wrong (a limit,
 * a malformed body, a client that goes away) the file stream is destroyed with the error, so the sink
 * can undo what it wrote; a file that was already stored is handed to `discard`; then the whole read
 * rejects with an ApiError.
 */
export function readMultipart<T>(
  req: IncomingMessage,
  fileField: string,
  allowedFields: ReadonlySet<string>,
  limits: MultipartLimits,
  sink: (part: FilePart) => Promise<T>,
  discard: (stored: T) => Promise<void>,
): Promise<MultipartResult<T>> {
  const contentType = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data\b/i.test(contentType)) {
    return Promise.reject(new ApiError(ErrorCode.UnsupportedContentType, 'the body must be multipart/form-data'));
  }
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: req.headers,
      limits: { fileSize: limits.fileBytes, fieldSize: limits.fieldBytes, files: 1, fields: allowedFields.size + 4, parts: allowedFields.size + 5, headerPairs: 20 },
    });
  } catch (error) {
    return Promise.reject(new ApiError(ErrorCode.InvalidMultipart, `malformed multipart request: ${(error as Error).message}`));
  }

  return new Promise((resolve, reject) => {
    const fields = new Map<string, string>();
    let failure: ApiError | null = null;
    let fileStream: Readable | null = null;
    let filePromise: Promise<T> | null = null;
    let parsed = false;
    let settled = false;

    const fail = (error: ApiError) => {
      failure ??= error;
      if (fileStream && !fileStream.readableEnded) fileStream.destroy(failure);
      req.unpipe(parser);
      req.resume();
      settle();
    };

    const settle = async () => {
      if (settled || (!failure && !parsed)) return;
      settled = true;
      let file: T | null = null;
      if (filePromise) {
        try {
          file = await filePromise;
        } catch (error) {
          failure ??= error instanceof ApiError ? error : new ApiError(ErrorCode.Internal, 'the upload could not be stored');
        }
      }
      if (!failure) return resolve({ fields, file });
      if (file !== null) await discard(file).catch(() => undefined);
      reject(failure);
    };

    parser.on('file', (name, stream, info) => {
      // The parser goes on with what it already has after a failure: a file part that comes after one
      // (behind a duplicated or oversized field, say) must never reach the sink, or it would be stored
      // after the request has been answered, with nobody left to delete it.
      if (failure) {
        stream.resume();
        return;
      }
      if (name !== fileField || filePromise) {
        stream.resume();
        fail(new ApiError(ErrorCode.UnexpectedField, `unexpected file part "${name}": send one file, named "${fileField}"`));
        return;
      }
      fileStream = stream;
      // The stream is destroyed with the request's failure (a limit, a refused upload, a client that went
      // away); that failure is reported through `fail`, so the stream's own error event must not go
      // unheard, or it would take the process down when the sink has already let go of the stream.
      stream.on('error', () => undefined);
      stream.on('limit', () => {
        stream.destroy(new ApiError(ErrorCode.PayloadTooLarge, `the file is larger than ${limits.fileBytes} bytes`));
      });
      const part = { stream, filename: sanitizeFilename(info.filename), contentType: info.mimeType || 'application/octet-stream', fieldsBefore: new Map(fields) };
      // A sink that throws at once refuses the upload like one that rejects (never an uncaught throw in the parser).
      filePromise = new Promise<T>((resolve) => resolve(sink(part)));
      filePromise.catch((error: unknown) => fail(error instanceof ApiError ? error : new ApiError(ErrorCode.Internal, 'the upload could not be stored')));
    });
    parser.on('field', (name, value, info) => {
      if (!allowedFields.has(name)) return fail(new ApiError(ErrorCode.UnexpectedField, `unknown field "${name}"`));
      if (fields.has(name)) return fail(new ApiError(ErrorCode.DuplicateField, `field "${name}" was sent more than once`));
      if (info.valueTruncated) return fail(new ApiError(ErrorCode.PayloadTooLarge, `field "${name}" is longer than ${limits.fieldBytes} bytes`));
      fields.set(name, value);
    });
    parser.on('filesLimit', () => fail(new ApiError(ErrorCode.UnexpectedField, `send one file, named "${fileField}"`)));
    parser.on('fieldsLimit', () => fail(new ApiError(ErrorCode.UnexpectedField, 'too many fields')));
    parser.on('partsLimit', () => fail(new ApiError(ErrorCode.UnexpectedField, 'too many parts')));
    parser.on('error', (error: Error) => fail(new ApiError(ErrorCode.InvalidMultipart, `malformed multipart body: ${error.message}`)));
    parser.on('close', () => {
      parsed = true;
      void settle();
    });
    req.on('aborted', () => fail(new ApiError(ErrorCode.ClientClosedRequest, 'the client closed the request before the upload finished')));
    req.on('error', () => fail(new ApiError(ErrorCode.ClientClosedRequest, 'the upload connection failed')));
    req.pipe(parser);
  });
}

/**
 * The base name only, as clean one-line text (cleanText: a lone surrogate, which a `filename*` in
 * UTF-16 can decode to, becomes U+FFFD; control characters and bidirectional overrides are removed),
 * without path separators or leading dots, at most 255 characters cut at a code point boundary.
 */
export function sanitizeFilename(name: string | undefined): string {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  const cleaned = cleanText(base, { oneLine: true }).replace(/^\.+/, '').trim();
  return cleanText(cleaned, { maxLength: 255 }).trimEnd() || 'upload';
}
