import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import type { JobSubjects } from '@app/contracts';
import { isStreamNotFound } from '@app/nats';

/** The fields of a resumable upload's state (the gateway's uploads KV bucket) that the storage sweep reads. */
interface UploadChunkOwner {
  nuid?: string;
  expiresAt?: string;
  jobId?: string | null;
}

/**
 * The chunk sets (nuids) of resumable uploads that have not expired at `now`. A resumable upload writes
 * its bytes as chunks in the video bucket long before its metadata exists (docs/adr/0009), so the
 * storage sweep, which purges chunk sets without metadata, must leave these alone. Read only: the
 * gateways own the bucket. No bucket (no gateway ever served an upload) is no live upload; any other
 * failure fails the caller, so that nothing is purged on a guess.
 */
export async function liveUploadChunkSets(nc: NatsConnection, subjects: JobSubjects, now: Date): Promise<Set<string>> {
  const live = new Set<string>();
  let kv;
  try {
    kv = await new Kvm(nc).open(subjects.uploadsBucket);
    await kv.status();
  } catch (error) {
    if (isStreamNotFound(error) || /stream not found|bucket not found/i.test(String(error))) return live;
    throw error;
  }
  const keys: string[] = [];
  for await (const key of await kv.keys()) keys.push(key);
  for (const key of keys) {
    const entry = await kv.get(key);
    if (!entry || entry.operation !== 'PUT' || entry.value.length === 0) continue;
    let state: UploadChunkOwner;
    try {
      state = JSON.parse(entry.string()) as UploadChunkOwner;
    } catch {
      continue;
    }
    if (!state.nuid) continue;
    // Unexpired, or completed (its chunks are then its object's, which has metadata anyway).
    if (state.jobId || !state.expiresAt || new Date(state.expiresAt).getTime() > now.getTime()) live.add(state.nuid);
  }
  return live;
}
