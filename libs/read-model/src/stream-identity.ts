import type { DataSource, EntityManager } from 'typeorm';
import type { StreamIdentity, StreamState } from '@app/event-store';
import { qualified } from './model-schema.js';
import { PROJECTION_NAME } from './projection.writer.js';

/** What a model says about the stream it folded: how far, and which stream (null until it was recorded). */
export interface ModelStream {
  checkpoint: number;
  identity: StreamIdentity | null;
}

/**
 * How a model relates to the stream that is there now:
 * - `same`: it was projected from this stream, which still holds everything up to its checkpoint;
 * - `adopt`: it records no stream yet (nothing was projected into it, or it was made before
 *   identities were stored) and nothing says the stream is another one: it takes this one's;
 * - `other`: it was projected from another stream (`identity`), or the stream ends below its
 *   checkpoint (`rewound`: messages it folded are gone, so new ones would reuse their sequences).
 *   Its checkpoint means nothing on this stream; only a model rebuilt from this stream is right.
 */
export type StreamVerdict = { kind: 'same' } | { kind: 'adopt' } | { kind: 'other'; reason: 'identity' | 'rewound' };

export function judgeStream(model: ModelStream, stream: StreamState): StreamVerdict {
  if (model.identity && !sameStream(model.identity, stream.identity)) return { kind: 'other', reason: 'identity' };
  if (stream.lastSeq < model.checkpoint) return { kind: 'other', reason: 'rewound' };
  return model.identity ? { kind: 'same' } : { kind: 'adopt' };
}

export function sameStream(a: StreamIdentity, b: StreamIdentity): boolean {
  return a.stream === b.stream && a.created === b.created;
}

/** A model and a stream that do not go together (judgeStream said `other`), as the logs and /health/ready tell it. */
export interface StreamMismatch {
  reason: 'identity' | 'rewound';
  /** The model schema. */
  schema: string;
  checkpoint: number;
  stored: StreamIdentity | null;
  found: StreamIdentity;
  lastSeq: number;
}

/** The mismatch of the model in `schema` with the stream when judgeStream says `other`; null when they go together (or it may adopt). */
export function streamMismatchOf(schema: string, model: ModelStream, stream: StreamState): StreamMismatch | null {
  const verdict = judgeStream(model, stream);
  if (verdict.kind !== 'other') return null;
  return { reason: verdict.reason, schema, checkpoint: model.checkpoint, stored: model.identity, found: stream.identity, lastSeq: stream.lastSeq };
}

export function describeStreamMismatch(m: StreamMismatch): string {
  const stored = m.stored ? `${m.stored.stream} created ${m.stored.created}` : 'a stream it did not record';
  const found = `${m.found.stream} created ${m.found.created}, last seq ${m.lastSeq}`;
  const why = m.reason === 'rewound' ? `the stream ends below the checkpoint ${m.checkpoint}` : `another stream`;
  return `the event stream is not the one the read model was projected from (${why}): the model ${m.schema} holds ${stored} through seq ${m.checkpoint}; the stream now is ${found}`;
}

/** The checkpoint and the recorded stream of the model in `schema` (0 and null when it has no checkpoint row yet). */
export async function readModelStream(q: Pick<DataSource, 'query'> | EntityManager, schema: string): Promise<ModelStream> {
  const rows: { last_seq: string; stream_name: string | null; stream_created: string | null }[] = await q.query(
    `SELECT last_seq, stream_name, stream_created FROM ${qualified(schema, 'projection_checkpoints')} WHERE name = $1`,
    [PROJECTION_NAME],
  );
  const row = rows[0];
  if (!row) return { checkpoint: 0, identity: null };
  const identity = row.stream_name !== null && row.stream_created !== null ? { stream: row.stream_name, created: row.stream_created } : null;
  return { checkpoint: Number(row.last_seq), identity };
}

/**
 * Records `identity` as the stream of the model in `schema` if it records none yet (creating its
 * checkpoint row at 0 if needed), and answers what the model says afterwards. A recorded identity is
 * never replaced: when two processes adopt at once, the first one wins and the other sees it, and a
 * model that has recorded a stream is rebuilt rather than re-labelled when the stream changes.
 * Call it only when judgeStream said `adopt`, and judge the answer again.
 */
export async function adoptStreamIdentity(q: Pick<DataSource, 'query'> | EntityManager, schema: string, identity: StreamIdentity): Promise<ModelStream> {
  await q.query(
    `INSERT INTO ${qualified(schema, 'projection_checkpoints')} AS c (name, last_seq, updated_at, stream_name, stream_created)
     VALUES ($1, 0, now(), $2, $3)
     ON CONFLICT (name) DO UPDATE SET stream_name = EXCLUDED.stream_name, stream_created = EXCLUDED.stream_created
     WHERE c.stream_created IS NULL`,
    [PROJECTION_NAME, identity.stream, identity.created],
  );
  return readModelStream(q, schema);
}
