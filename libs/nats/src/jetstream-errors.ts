import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';

/** True when `error` is JetStream's answer that the stream does not exist. */
export function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;
}

/**
 * True when the stream `name` does not exist (deleted, or lost with NATS's data); false when it
 * exists, or when asking failed otherwise (NATS away): only a clear "not found" says it is gone.
 */
export async function streamGone(jsm: JetStreamManager, name: string): Promise<boolean> {
  try {
    await jsm.streams.info(name);
    return false;
  } catch (error) {
    return isStreamNotFound(error);
  }
}

/** A stream or bucket refused a write because it is at its size limit (it discards new data when full). */
export function isStorageFullError(error: unknown): boolean {
  return error instanceof JetStreamApiError && /maximum (bytes|messages) exceeded/i.test(error.message);
}
