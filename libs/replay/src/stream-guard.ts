import type { EventStore, StreamIdentity, StreamState } from '@app/event-store';
import { isStreamNotFound } from '@app/nats';
import { sameStream } from '@app/read-model';
import type { ApplyBatch } from './rebuild.js';

/** The stream changed while a rebuild or a catch-up was reading it: what was read may belong to either. */
export class StreamChangedError extends Error {
  constructor(
    readonly expected: StreamIdentity,
    readonly found: StreamIdentity | null,
  ) {
    super(`the event stream changed while it was read: ${expected.stream} created ${expected.created} is now ${found ? `created ${found.created}` : 'gone'}`);
    this.name = 'StreamChangedError';
  }
}

/** The stream as it is now; rejects with StreamChangedError when it is gone or is not `identity` any more. */
export async function streamStillThere(store: EventStore, identity: StreamIdentity): Promise<StreamState> {
  const now = await store.streamState().catch((error: unknown) => {
    if (isStreamNotFound(error)) return null;
    throw error;
  });
  if (!now || !sameStream(now.identity, identity)) throw new StreamChangedError(identity, now?.identity ?? null);
  return now;
}

/**
 * Wraps `apply` so that each batch is written only if the stream is still `identity` once the batch
 * has been read: a stream can be deleted and made again under a reader (an ordered consumer goes on
 * reading the new one), and a batch read before the check that still finds `identity` came from it.
 */
export function guardedByStream(store: EventStore, identity: StreamIdentity, apply: ApplyBatch): ApplyBatch {
  return async (items, fromSeq, throughSeq) => {
    await streamStillThere(store, identity);
    return apply(items, fromSeq, throughSeq);
  };
}
