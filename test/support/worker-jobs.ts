import { readFile } from 'node:fs/promises';
import type { ArtifactRef, JobCompleted, JobEvent, VideoSubmitted } from '@app/contracts';
import type { BlobStore } from '@app/blob-store';
import type { EventStore } from '@app/event-store';
import type { PipelineResult } from '@app/tools';
import { videoSubmitted } from './events.js';
import { eventually } from './services.js';

/**
 * Submits `video` for `pipeline` straight into a stream and an Object Store (as the gateway would)
 * and waits for a worker of that namespace to end the job. Resolves with its events, its JobCompleted,
 * its result (read from the Object Store when it was too large for the event) and its artifacts by
 * name; rejects when the job failed for good.
 */
export async function runWorkerJob(store: EventStore, blobs: BlobStore, video: string, pipeline: string, params: Record<string, unknown> = {}, timeoutMs = 60_000) {
  const submitted = await submitWorkerJob(store, blobs, video, pipeline, params);
  const events = await eventually(async () => {
    const items = await store.readJob(submitted.jobId);
    const all = items.map((item) => (item.ok ? item.stored.event : null)).filter((e): e is JobEvent => e !== null);
    return all.some((e) => e.type === 'JobCompleted' || (e.type === 'JobFailed' && e.data.final)) ? all : undefined;
  }, timeoutMs, `${pipeline} job to end`);
  const last = events.at(-1)!;
  if (last.type !== 'JobCompleted') throw new Error(`job failed: ${JSON.stringify(last.data)}`);
  const result = (last.data.result ?? JSON.parse((await downloadObject(blobs, last.data.resultRef!.objectName)).toString('utf8'))) as PipelineResult;
  return { events, completed: last as JobCompleted, result, artifacts: new Map<string, ArtifactRef>(last.data.artifacts.map((a) => [a.name, a])) };
}

/** Stores `video` and appends its VideoSubmitted, as the gateway would; the workers take it from there. */
export async function submitWorkerJob(store: EventStore, blobs: BlobStore, video: string, pipeline: string, params: Record<string, unknown> = {}): Promise<VideoSubmitted> {
  const submitted = videoSubmitted(undefined, { pipeline, params });
  const blob = await blobs.putBytes(`uploads/${submitted.jobId}/1`, await readFile(video), 'video/mp4');
  submitted.data.video = { ...submitted.data.video, bucket: blob.bucket, objectName: blob.name, size: blob.size, sha256: blob.sha256 };
  await store.append(submitted, 0);
  return submitted;
}

/** The whole of an object of the Object Store. */
export async function downloadObject(blobs: BlobStore, objectName: string): Promise<Buffer> {
  const opened = await blobs.open(objectName);
  if (!opened) throw new Error(`no object ${objectName}`);
  const chunks: Buffer[] = [];
  for await (const chunk of opened.stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
