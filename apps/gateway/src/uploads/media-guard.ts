import { Readable, Transform } from 'node:stream';
import { ErrorCode } from '@app/contracts';
import { ApiError } from '../http/api-error.js';
import { MediaStructureError, SNIFF_BYTES, sniffContainer, structureCheckFor, type Sniffed } from './media-sniffer.js';

export interface GuardedUpload {
  /** The whole upload (the sniffed head included), failing at its end if the file is truncated. */
  stream: Readable;
  media: Sniffed;
}

/**
 * A route's own rule for the upload, given its first bytes (up to SNIFF_BYTES) and what they were
 * sniffed as (null: no container Framewire accepts). It throws to refuse; nothing has been stored yet.
 */
export type MediaCheck = (head: Buffer, media: Sniffed | null) => void;

/**
 * Reads the first bytes of an upload as they arrive and decides what it is before anything is
 * stored: an empty file or one that is not a video container is refused at once, so no object is
 * ever created for it. The rest streams on through a structure check that fails the stream (and so
 * the Object Store write, which then removes what it wrote) if the file turns out to be cut short.
 */
export async function guardUpload(upload: Readable, check?: MediaCheck): Promise<GuardedUpload> {
  const { head, stream: source } = await peek(upload, SNIFF_BYTES);
  const media = judgeHead(head, check);
  const structure = structureCheckFor(media.kind);
  const checked = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      try {
        structure.push(chunk);
        done(null, chunk);
      } catch (error) {
        done(asApiError(error));
      }
    },
    flush(done) {
      try {
        structure.finish();
        done();
      } catch (error) {
        done(asApiError(error));
      }
    },
  });
  // A failure upstream (a size limit, a client that went away) must fail the checked stream too.
  source.once('error', (error) => checked.destroy(error));
  return { stream: source.pipe(checked), media };
}

/**
 * What an upload is from its first bytes (up to SNIFF_BYTES; fewer only when the file is that short):
 * refused with EMPTY_FILE or UNSUPPORTED_MEDIA (or by the route's own `check`) unless it is a video
 * container Framewire accepts. POST /v1/jobs and resumable uploads judge their first bytes with it.
 */
export function judgeHead(head: Buffer, check?: MediaCheck): Sniffed {
  const media = sniffContainer(head);
  check?.(head, media);
  if (head.length === 0) throw new ApiError(ErrorCode.EmptyFile, 'the uploaded file is empty');
  if (!media) {
    throw new ApiError(
      ErrorCode.UnsupportedMedia,
      'the file is not a video container Framewire accepts (MP4/MOV, WebM/Matroska, AVI or MPEG-TS), whatever its name says',
    );
  }
  return media;
}

function asApiError(error: unknown): Error {
  if (error instanceof MediaStructureError) return new ApiError(ErrorCode.InvalidMedia, error.message);
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Resolves with up to `bytes` leading bytes of `stream` (fewer if it ends first), and a stream that
 * still yields everything from the first byte: the same one with the bytes put back, or, when it has
 * already ended, a new one holding them.
 */
export function peek(stream: Readable, bytes: number): Promise<{ head: Buffer; stream: Readable }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = (ended: boolean) => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
      const head = Buffer.concat(chunks);
      if (ended) return resolve({ head, stream: Readable.from(head.length > 0 ? [head] : []) });
      stream.unshift(head);
      resolve({ head, stream });
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while (length < bytes && (chunk = stream.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        length += chunk.length;
      }
      if (length >= bytes) finish(false);
    };
    const onEnd = () => finish(true);
    const onError = (error: Error) => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      reject(error);
    };
    stream.on('readable', onReadable);
    stream.once('end', onEnd);
    stream.once('error', onError);
  });
}
