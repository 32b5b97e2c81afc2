import * as tus from 'tus-js-client';
import { GiB, MiB, mp4ShapedBytes } from './lib/bytes.js';
import { FramewireUnderTest } from './lib/framewire.js';
import { submitMultipart as multipart } from './lib/multipart-upload.js';
import { perSecond, round } from './lib/stats.js';
import type { Benchmark } from './lib/types.js';

/** The tus client's chunk size: one PATCH per 64 MiB (tus-js-client holds one chunk of a stream in memory). */
const TUS_CHUNK = 64 * MiB;

/**
 * P9: the same large file through `POST /v1/jobs` (multipart, one request) and through the
 * resumable upload (`/v1/uploads`, tus-js-client, PATCHes of 64 MiB), one after the other against one
 * gateway. Each is timed from the first request to the answer that names the job (the 202; the final
 * PATCH's Framewire-Job-Id), so the tus figure includes the completion (the structure check reading
 * the chunks back, and the adoption of the chunks as the object: no copy, ADR 0009). The bytes are
 * made on the fly, never written to disk.
 */
const bench: Benchmark = {
  id: 'p9',
  title: 'Resumable upload (tus) beside POST /v1/jobs',
  timeoutMs: 10 * 60_000,
  async run(ctx) {
    const bytes = ctx.quick ? 8 * MiB : 1 * GiB;
    const fw = await new FramewireUnderTest(ctx).open();
    try {
      await fw.startJobs();
      const auth = await fw.adminKey();
      const gateway = await fw.start('gateway', 'gateway', { PORT: '0', HOST: '127.0.0.1' });
      const port = (JSON.parse(await gateway.waitForLine(/gateway listening/)) as { port: number }).port;
      // Warm-up: one small upload each way.
      await multipart(port, 1 * MiB, auth);
      await resumable(port, 1 * MiB, auth);

      let t0 = process.hrtime.bigint();
      const status = await multipart(port, bytes, auth);
      const postRate = perSecond(bytes / MiB, t0, process.hrtime.bigint());
      if (status !== 202) throw new Error(`POST /v1/jobs was answered with ${status}`);

      t0 = process.hrtime.bigint();
      const { jobId, finalPatchMs } = await resumable(port, bytes, auth);
      const tusRate = perSecond(bytes / MiB, t0, process.hrtime.bigint());
      if (!jobId) throw new Error('the final PATCH named no job');
      return {
        id: 'p9',
        title: 'Resumable upload (tus) beside POST /v1/jobs',
        measurements: [
          { name: `POST /v1/jobs (multipart), ${bytes / MiB} MiB`, unit: 'MiB/s', value: round(postRate, 1) },
          {
            name: `tus upload (tus-js-client, ${TUS_CHUNK / MiB} MiB PATCHes), ${bytes / MiB} MiB`,
            unit: 'MiB/s',
            value: round(tusRate, 1),
            baseline: { name: 'POST /v1/jobs, same size', value: round(postRate, 1) },
          },
          { name: `tus final PATCH (its ${TUS_CHUNK / MiB} MiB, then the check of the chunks, their adoption and the job)`, unit: 's', value: round(finalPatchMs / 1000, 1) },
        ],
        notes: [
          'HTTP/1.1 on loopback; an MP4-shaped body made on the fly. POST: timed to the 202. tus: timed from the creation to the final PATCH that answers Framewire-Job-Id; its bytes go into the video bucket as Object Store chunks as they arrive; when the last one is in, they are read once for the structure check and adopted as the object (its metadata published): no copy.',
        ],
      };
    } finally {
      await fw.close();
    }
  },
};
export default bench;

/** A tus upload of `bytes` MP4-shaped bytes; the job id the final PATCH named, and how long that PATCH took. */
function resumable(port: number, bytes: number, auth: Record<string, string>): Promise<{ jobId: string | null; finalPatchMs: number }> {
  let jobId: string | null = null;
  let patchStarted = 0;
  let finalPatchMs = 0;
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(mp4ShapedBytes(bytes), {
      endpoint: `http://127.0.0.1:${port}/v1/uploads`,
      headers: auth,
      uploadSize: bytes,
      chunkSize: TUS_CHUNK,
      metadata: { filename: 'large.mp4', pipeline: 'noop' },
      retryDelays: [],
      onBeforeRequest: (req) => {
        if (req.getMethod() === 'PATCH') patchStarted = performance.now();
      },
      onAfterResponse: (req, res) => {
        if (req.getMethod() !== 'PATCH') return;
        const named = res.getHeader('Framewire-Job-Id');
        if (named) {
          jobId = named;
          finalPatchMs = performance.now() - patchStarted;
        }
      },
      onError: reject,
      onSuccess: () => resolve({ jobId, finalPatchMs }),
    });
    upload.start();
  });
}
