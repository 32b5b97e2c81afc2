import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { JobEvent } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { testKeys } from '../support/keys.js';
import { serviceStarter, type ServiceProcess } from '../support/processes.js';
import { eventually, freshNamespace, freshSchema, objectNames, streamLastSeq, TEST_DATABASE_URL, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { ffprobe, makeTextFile, makeVideo, mediaDir, mp4Shell, type VideoSpec } from '../support/videos.js';

/**
 * The walking skeleton as a user runs it: the built gateway, jobs service and two workers as
 * separate OS processes that share nothing but NATS and PostgreSQL. Real MP4s go in over HTTP.
 */
describe('walking skeleton, end to end', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let media: Awaited<ReturnType<typeof mediaDir>>;
  const services = new Map<string, ServiceProcess>();
  let base = '';
  let auth: Record<string, string> = {};

  const specs: VideoSpec[] = [
    { seconds: 1, width: 320, height: 240, fps: 25 },
    { seconds: 2, width: 640, height: 360, fps: 30 },
    { seconds: 1.5, width: 176, height: 144, fps: 15, audio: true },
    { seconds: 3, width: 426, height: 240, fps: 24 },
  ];
  const videos: Array<{ path: string; sha256: string }> = [];

  const start = serviceStarter(() => ({ NATS_URL: TEST_NATS_URL, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: db.schema, FRAMEWIRE_NAMESPACE: ns.namespace }), services);

  const rows = () => db.query(`SELECT * FROM jobs ORDER BY job_id`);
  const checkpoint = async () => Number((await db.query(`SELECT last_seq FROM projection_checkpoints`).catch(() => []))[0]?.['last_seq'] ?? 0);

  const upload = async (content: Uint8Array<ArrayBuffer>, filename = 'clip.mp4') => {
    const form = new FormData();
    form.set('file', new Blob([content], { type: 'video/mp4' }), filename);
    return fetch(`${base}/v1/jobs`, { method: 'POST', body: form, headers: auth });
  };

  async function submit(path: string, filename = 'clip.mp4'): Promise<string> {
    const res = await upload(await readFile(path), filename);
    const body = (await res.json()) as { job_id: string };
    expect(res.status).toBe(202);
    return body.job_id;
  }

  async function job(id: string): Promise<Record<string, any>> {
    const res = await fetch(`${base}/v1/jobs/${id}`, { headers: auth });
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, any>;
  }

  const terminal = (id: string) =>
    eventually(async () => {
      const view = await job(id);
      return view['status'] === 'completed' || view['status'] === 'failed' ? view : undefined;
    }, 60_000, `job ${id} to end`);

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    media = await mediaDir();
    for (const [i, spec] of specs.entries()) {
      const path = await makeVideo(join(media.dir, `v${i}.mp4`), spec);
      videos.push({ path, sha256: createHash('sha256').update(await readFile(path)).digest('hex') });
    }
    const keys = await testKeys(db.schema);
    auth = (await keys.create('e2e')).headers;
    await keys.close();
    start('jobs', 'jobs');
    start('worker-1', 'worker', { WORKER_ID: 'e2e-worker-1', WORKER_CONCURRENCY: '2' });
    start('worker-2', 'worker', { WORKER_ID: 'e2e-worker-2', WORKER_CONCURRENCY: '2' });
    // This test polls 20 jobs every 50 ms: no rate limit here (the hostile suite tests it).
    const gateway = start('gateway', 'gateway', { PORT: '0', HOST: '127.0.0.1', RATE_LIMIT_REQUESTS: '0', MAX_CONCURRENT_UPLOADS_PER_KEY: '8' });
    const listening = await gateway.waitForLine(/gateway listening/);
    base = `http://127.0.0.1:${JSON.parse(listening).port}`;
    await Promise.all([
      services.get('jobs')!.waitForLine(/jobs service ready/),
      services.get('worker-1')!.waitForLine(/worker pulling jobs/),
      services.get('worker-2')!.waitForLine(/worker pulling jobs/),
    ]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...services.values()].map((s) => s.stop()));
    await ns?.cleanup();
    await db?.drop();
    await media?.cleanup();
  });

  it('probes 20 uploaded MP4s in worker processes, each with one start and one terminal event', async () => {
    const submitted: Array<{ id: string; video: number }> = [];
    // Five rounds of the four videos, each round uploaded concurrently.
    for (let round = 0; round < 5; round++) {
      const ids = await Promise.all(videos.map((v) => submit(v.path)));
      ids.forEach((id, video) => submitted.push({ id, video }));
    }
    expect(new Set(submitted.map((s) => s.id)).size).toBe(20);

    const views = await Promise.all(submitted.map((s) => terminal(s.id)));
    const truth = await Promise.all(videos.map((v) => ffprobe(v.path)));
    for (const [i, view] of views.entries()) {
      const { video } = submitted[i]!;
      const probe = truth[video]!;
      const stream = probe.streams.find((s) => s.codec_type === 'video')!;
      expect(view).toMatchObject({ status: 'completed', attempts: 1, progress: 100, error: null });
      expect(view['video']).toMatchObject({ sha256: videos[video]!.sha256, size: Number(probe.format.size) });
      const result = (view['result'] as { tools: { probe: { data: Record<string, unknown> } } }).tools.probe.data;
      expect(result).toMatchObject({
        width: stream.width,
        height: stream.height,
        codec: stream.codec_name,
        size: Number(probe.format.size),
        frame_count: Number(stream.nb_frames),
      });
      expect(result['duration']).toBeCloseTo(Number(probe.format.duration), 2);
      const [n, d] = stream.avg_frame_rate!.split('/').map(Number);
      expect(result['fps']).toBeCloseTo(n! / d!, 2);
      expect(result['audio'] === null).toBe(!specs[video]!.audio);
    }
    // Both worker processes took part: the work is shared through the one durable consumer.
    expect(new Set(views.map((v) => v['worker_id']))).toEqual(new Set(['e2e-worker-1', 'e2e-worker-2']));

    // The stream, not the read model: exactly one JobStarted and one terminal event per job.
    const store = new EventStore(ns.nc, ns.subjects);
    for (const { id } of submitted) {
      const types = (await store.readJob(id)).map((item) => (item.ok ? item.stored.event.type : 'malformed'));
      expect(types).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted']);
    }
    // ... and the HTTP timeline shows the same, read from the stream.
    const timeline = await fetch(`${base}/v1/jobs/${submitted[0]!.id}/events`, { headers: auth }).then((r) => r.json() as Promise<{ events: JobEvent[] }>);
    expect(timeline.events.map((e) => e.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted']);
  });

  it('refuses a text file named .mp4 at the door, and fails an MP4 that ffprobe cannot read with INVALID_MEDIA, once', async () => {
    const seq = await streamLastSeq(ns.nc, ns.subjects);
    const objects = await objectNames(ns.nc, ns.subjects);
    const text = await upload(await readFile(await makeTextFile(join(media.dir, 'fake.mp4'))), 'fake.mp4');
    expect(text.status).toBe(415);
    expect(((await text.json()) as { error: { code: string } }).error.code).toBe('UNSUPPORTED_MEDIA');
    expect(await streamLastSeq(ns.nc, ns.subjects)).toBe(seq);
    expect(await objectNames(ns.nc, ns.subjects)).toEqual(objects);

    // A whole MP4 box structure with nothing playable inside passes the gateway; the worker's probe refuses it.
    const res = await upload(mp4Shell(5), 'hollow.mp4');
    expect(res.status).toBe(202);
    const { job_id: id } = (await res.json()) as { job_id: string };
    const view = await terminal(id);
    expect(view).toMatchObject({ status: 'failed', error: { code: 'INVALID_MEDIA' }, attempts: 1, result: null });
    const store = new EventStore(ns.nc, ns.subjects);
    const events = (await store.readJob(id)).map((item) => (item.ok ? item.stored.event : null));
    expect(events.map((e) => e?.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobFailed']);
    expect(events[2]).toMatchObject({ data: { final: true, error: { code: 'INVALID_MEDIA' } } });
  });

  it('rebuilds the dropped read model from the stream into equal rows', async () => {
    const lastSeq = (await new EventStore(ns.nc, ns.subjects).lastSeq());
    await eventually(async () => ((await checkpoint()) >= lastSeq ? true : undefined), 30_000, 'projection to catch up');
    const before = await rows();
    expect(before).toHaveLength(21);

    expect(await services.get('jobs')!.stop()).toBe(0);
    await db.query(`DROP SCHEMA "${db.schema}" CASCADE`);
    start('jobs', 'jobs');
    await eventually(async () => ((await checkpoint()) >= lastSeq ? true : undefined), 60_000, 'the rebuild');
    expect(await rows()).toEqual(before);
    // The gateway answers from the rebuilt model as before.
    const first = before[0] as { job_id: string; status: string };
    expect(await job(first.job_id)).toMatchObject({ job_id: first.job_id, status: first.status });
  });

  it('stops every service cleanly on SIGTERM', async () => {
    for (const name of ['gateway', 'worker-1', 'worker-2', 'jobs']) {
      expect(await services.get(name)!.stop('SIGTERM')).toBe(0);
    }
  });
});
