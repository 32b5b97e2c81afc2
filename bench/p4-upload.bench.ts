import { GiB, MiB } from './lib/bytes.js';
import { FramewireUnderTest } from './lib/framewire.js';
import { submitMultipart as upload } from './lib/multipart-upload.js';
import { rssBytes as rss } from './lib/proc.js';
import { perSecond, round } from './lib/stats.js';
import type { Benchmark, Measurement } from './lib/types.js';

/**
 * P4: one large upload streamed through the gateway (`POST /v1/jobs`, multipart, noop pipeline)
 * into the Object Store. The bytes are made on the fly, never written to disk. The gateway's RSS is
 * sampled from /proc every 50 ms; its growth is the peak during the upload less the RSS after a
 * small warm-up upload. Throughput is set beside the raw Object Store put of the same size measured
 * in the raw limits of this run.
 */
const bench: Benchmark = {
  id: 'p4',
  title: 'Streamed upload through the gateway',
  timeoutMs: 5 * 60_000,
  async run(ctx) {
    const bytes = ctx.quick ? 8 * MiB : 2 * GiB;
    const fw = await new FramewireUnderTest(ctx).open();
    try {
      // The gateway verifies its key through the jobs service, as in production.
      await fw.startJobs();
      const auth = await fw.adminKey();
      const gateway = await fw.start('gateway', 'gateway', { PORT: '0', HOST: '127.0.0.1' });
      const port = (JSON.parse(await gateway.waitForLine(/gateway listening/)) as { port: number }).port;
      const pid = gateway.child.pid!;
      await upload(port, 1 * MiB, auth);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const before = await rss(pid);
      let peak = before;
      const sampler = setInterval(() => void rss(pid).then((value) => (peak = Math.max(peak, value)), () => undefined), 50);
      const t0 = process.hrtime.bigint();
      const status = await upload(port, bytes, auth);
      const rate = perSecond(bytes / MiB, t0, process.hrtime.bigint());
      clearInterval(sampler);
      peak = Math.max(peak, await rss(pid));
      if (status !== 202) throw new Error(`the upload was answered with ${status}`);
      const growth = (peak - before) / MiB;
      const raw = ctx.earlier?.('raw')?.measurements.find((m) => m.name.startsWith('Object Store put') && m.extra?.['bytes'] === bytes);
      const measurements: Measurement[] = [
        { name: `gateway RSS growth, ${bytes / MiB} MiB upload`, unit: 'MiB', value: round(growth, 1), goal: '< 100 MiB', met: growth < 100, extra: { beforeMiB: round(before / MiB, 1), peakMiB: round(peak / MiB, 1) } },
        {
          name: `upload through the gateway, ${bytes / MiB} MiB`,
          unit: 'MiB/s',
          value: round(rate, 1),
          ...(raw ? { baseline: { name: 'raw Object Store put, same size', value: raw.value }, goal: '≥ 0.8× raw Object Store put', met: rate >= 0.8 * raw.value } : {}),
        },
      ];
      return {
        id: 'p4',
        title: 'Streamed upload through the gateway',
        measurements,
        notes: ['HTTP/1.1 on loopback, a multipart body with Content-Length, made on the fly from one random 1 MiB block; timed from the request to the 202 (the object is stored and VideoSubmitted appended by then).'],
      };
    } finally {
      await fw.close();
    }
  },
};
export default bench;
