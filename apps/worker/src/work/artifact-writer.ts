import { createReadStream } from 'node:fs';
import { artifactNameSchema, ErrorCode, type ArtifactRef } from '@app/contracts';
import type { BlobStore } from '@app/blob-store';
import { ToolError, type ArtifactWriter } from '@app/tools';

/** Where an attempt's artifacts live in the Object Store: one folder per job, one per attempt in it. */
export function artifactPrefix(jobId: string, attempt: number): string {
  return `artifacts/${jobId}/${attempt}/`;
}

/**
 * Writes an attempt's artifacts into the Object Store under its own prefix, so an attempt that lost
 * the job can never overwrite the files of the one that won. Names are plain file names
 * (artifactNameSchema), unique within the attempt.
 */
export class ObjectStoreArtifactWriter implements ArtifactWriter {
  /** In the order putFile was called, whatever order the uploads finish in. */
  private readonly written: Array<ArtifactRef | null> = [];
  private readonly names = new Set<string>();

  constructor(
    private readonly blobs: BlobStore,
    private readonly prefix: string,
  ) {}

  async putFile(name: string, path: string, contentType: string): Promise<ArtifactRef> {
    const valid = artifactNameSchema.safeParse(name);
    if (!valid.success) throw new ToolError(ErrorCode.ToolFailed, `invalid artifact name ${JSON.stringify(name.slice(0, 200))}: ${valid.error.issues[0]?.message ?? 'invalid'}`, true);
    if (this.names.has(name)) throw new ToolError(ErrorCode.ToolFailed, `artifact "${name}" was written twice`, true);
    this.names.add(name);
    const slot = this.written.push(null) - 1;
    const blob = await this.blobs.put(this.prefix + name, createReadStream(path), contentType);
    const ref: ArtifactRef = { name, bucket: blob.bucket, objectName: blob.name, size: blob.size, contentType, sha256: blob.sha256 };
    this.written[slot] = ref;
    return ref;
  }

  /** Every artifact written so far, in order. */
  artifacts(): ArtifactRef[] {
    return this.written.filter((ref): ref is ArtifactRef => ref !== null);
  }

  /** Deletes what this attempt wrote (it failed, or lost the job): best effort. */
  async discard(): Promise<void> {
    for (const ref of this.artifacts()) await this.blobs.delete(ref.objectName).catch(() => undefined);
  }
}
