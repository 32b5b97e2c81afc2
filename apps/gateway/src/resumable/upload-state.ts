/** A resumable upload as its KV entry holds it (JSON). */
export interface UploadState {
  id: string;
  /** The creator's tenant: the upload exists for that tenant only. */
  tenant: string;
  /** Upload-Length (the creation-defer-length extension is not offered). */
  length: number;
  /** Bytes committed: every one of them acknowledged by JetStream. */
  offset: number;
  /** Upload-Metadata as the client sent it (decoded). */
  metadata: Record<string, string | null>;
  createdAt: string;
  /** After this the upload and its bytes are deleted (unless the job was made: then only the state). */
  expiresAt: string;
  /**
   * The chunk set the bytes are written to in the video bucket (`$O.<bucket>.C.<nuid>`, NATS ADR-20):
   * completion publishes the object's metadata over it, so nothing is copied.
   */
  nuid: string;
  /** Chunk messages committed (every one below `offset`), and the stream sequence of the last of them (0: none). */
  chunks: number;
  lastSeq: number;
  /** The SHA-256 of the committed bytes so far, as hash-wasm's saved state (base64; '' before the first byte). */
  hashState: string;
  /** The committed first bytes (base64) while there are too few of them to sniff. */
  head: string;
  /** The sniffed container's content type, set as soon as enough first bytes have arrived. */
  contentType: string | null;
  /** The job made from the upload, once its last byte arrived. */
  jobId: string | null;
}

/** The state changed since it was read (another request or gateway moved the upload on). */
export class UploadStateConflict extends Error {
  constructor(readonly uploadId: string) {
    super(`upload ${uploadId} was changed by another request`);
    this.name = 'UploadStateConflict';
  }
}

export type ChecksumHeader = { kind: 'none' } | { kind: 'sha256'; digest: string } | { kind: 'unsupported'; algorithm: string } | { kind: 'malformed' };

/** `Upload-Checksum: <algorithm> <base64 digest>` (tus checksum extension); only sha256 is offered. */
export function parseChecksumHeader(value: string | undefined): ChecksumHeader {
  if (value === undefined) return { kind: 'none' };
  const match = /^\s*([A-Za-z0-9-]+) +([A-Za-z0-9+/]+={0,2})\s*$/.exec(value);
  if (!match) return { kind: 'malformed' };
  const algorithm = match[1]!.toLowerCase();
  if (algorithm !== 'sha256') return { kind: 'unsupported', algorithm };
  const digest = match[2]!;
  if (Buffer.from(digest, 'base64').length !== 32) return { kind: 'malformed' };
  return { kind: 'sha256', digest };
}

/** The Upload-Metadata keys that mean something to Framewire; others are refused. */
export const UPLOAD_METADATA_KEYS = ['filename', 'pipeline', 'params', 'priority', 'idempotency_key', 'filetype'] as const;

/** What a job is submitted with, from Upload-Metadata: the same fields as POST /v1/jobs's multipart ones. */
export interface UploadSubmission {
  filename: string | undefined;
  fields: Map<string, string>;
  idempotencyKey: string | null;
}

/**
 * Splits Upload-Metadata into the submission's fields (`pipeline`, `params`, `priority`), the file name
 * and the optional `idempotency_key`; an unknown key is named in the error. (`filetype`, which
 * tus clients often send, is accepted and ignored: the content type is the one sniffed.)
 */
export function submissionOf(metadata: Record<string, string | null> | undefined): UploadSubmission | { unknownKey: string } {
  const fields = new Map<string, string>();
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (!(UPLOAD_METADATA_KEYS as readonly string[]).includes(key)) return { unknownKey: key };
    if (value !== null && (key === 'pipeline' || key === 'params' || key === 'priority')) fields.set(key, value);
  }
  return { filename: metadata?.['filename'] ?? undefined, fields, idempotencyKey: metadata?.['idempotency_key'] ?? null };
}

/**
 * The idempotency key a completed upload submits its job under: the client's `idempotency_key`, or
 * one made from the upload id (with a space, which no Idempotency-Key header may hold, so the two
 * can never name the same job). A retried final PATCH, or a second gateway finishing the same upload,
 * therefore finds the job the first one made.
 */
export function submissionKeyOf(uploadId: string, idempotencyKey: string | null): string {
  return idempotencyKey ?? `tus upload ${uploadId}`;
}
