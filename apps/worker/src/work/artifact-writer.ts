import { createReadStream } from 'node:fs';
import { artifactNameSchema, ErrorCode, type ArtifactRef } from '@app/contracts';
import type { BlobStore } from '@app/blob-store';
import { inSpan, SpanKind, tracingActive } from '@app/observability';
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
  /** Uploads under way: a tool that failed may leave some behind it, which discard waits for. */
  private readonly pending = new Set<Promise<unknown>>();
  /** When the first upload began and the last one ended (performance.now()), and the sum of their times. */
  private firstAt: number | null = null;
  private lastAt: number | null = null;
  private busyMs = 0;

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
    const began = performance.now();
    this.firstAt ??= began;
    const put = () => this.blobs.put(this.prefix + name, createReadStream(path), contentType);
    const upload = tracingActive()
      ? inSpan('upload artifact', { kind: SpanKind.INTERNAL, attributes: { 'framewire.artifact.name': name, 'framewire.artifact.content_type': contentType } }, async (span) => {
          const blob = await put();
          span.setAttribute('framewire.artifact.bytes', blob.size);
          return blob;
        })
      : put();
    this.pending.add(upload);
    let blob;
    try {
      blob = await upload;
    } finally {
      this.pending.delete(upload);
      this.lastAt = performance.now();
      this.busyMs += this.lastAt - began;
    }
    const ref: ArtifactRef = { name, bucket: blob.bucket, objectName: blob.name, size: blob.size, contentType, sha256: blob.sha256 };
    this.written[slot] = ref;
    return ref;
  }

  /** Every artifact written so far, in order. */
  artifacts(): ArtifactRef[] {
    return this.written.filter((ref): ref is ArtifactRef => ref !== null);
  }

  /** For the attempt's debug log: how many uploads, over what stretch of time, and their summed time. */
  timings(): { uploads: number; uploadSpanMs: number; uploadSumMs: number } {
    const span = this.firstAt !== null && this.lastAt !== null ? this.lastAt - this.firstAt : 0;
    return { uploads: this.artifacts().length, uploadSpanMs: Math.round(span), uploadSumMs: Math.round(this.busyMs) };
  }

  /**
   * Deletes what this attempt wrote (it failed, or lost the job): best effort. Uploads still under
   * way (a tool that failed while others of its uploads ran) are waited for first, so none lands
   * after the cleanup.
   */
  async discard(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    for (const ref of this.artifacts()) await this.blobs.delete(ref.objectName).catch(() => undefined);
  }
}
