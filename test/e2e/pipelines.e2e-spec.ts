import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnService, type ServiceProcess } from '../support/processes.js';
import { freshNamespace, freshSchema, TEST_DATABASE_URL, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { dimensions, makeVideo, mediaDir } from '../support/videos.js';

/**
 * A real pipeline as a user runs it: the built gateway, jobs service and a worker as separate
 * processes, both gateway and worker loading the in-repo plugin by name. A video goes in over HTTP,
 * the client follows the SSE stream to the end, then downloads a thumbnail.
 */
describe('pipelines end to end', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let media: Awaited<ReturnType<typeof mediaDir>>;
  const services: ServiceProcess[] = [];
  let base = '';

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    media = await mediaDir();
    const env = { NATS_URL: TEST_NATS_URL, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: db.schema, FRAMEWIRE_NAMESPACE: ns.namespace, FRAMEWIRE_PLUGINS: '@framewire/plugin-silence' };
    const jobs = spawnService('jobs', 'jobs', env);
    const worker = spawnService('worker', 'worker', { ...env, WORKER_ID: 'e2e-pipelines-worker' });
    const gateway = spawnService('gateway', 'gateway', { ...env, PORT: '0', HOST: '127.0.0.1' });
    services.push(jobs, worker, gateway);
    base = `http://127.0.0.1:${JSON.parse(await gateway.waitForLine(/gateway listening/)).port}`;
    await Promise.all([jobs.waitForLine(/jobs service ready/), worker.waitForLine(/worker pulling jobs/)]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await ns?.cleanup();
    await db?.drop();
    await media?.cleanup();
  });

  it('uploads a video, follows its SSE stream to completion and downloads a thumbnail that is a JPEG of the asked size', async () => {
    const video = await makeVideo(join(media.dir, 'clip.mp4'), { seconds: 3, width: 320, height: 240, fps: 25, audio: true });
    const form = new FormData();
    form.set('file', new Blob([await readFile(video)], { type: 'video/mp4' }), 'clip.mp4');
    form.set('pipeline', 'analyze');
    form.set('params', JSON.stringify({ frame_stride: 25, thumbnail_width: 160 }));
    const submitted = await fetch(`${base}/v1/jobs`, { method: 'POST', body: form });
    expect(submitted.status).toBe(202);
    const { job_id: id } = (await submitted.json()) as { job_id: string };

    const stream = await fetch(`${base}/v1/jobs/${id}/stream`);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const events = (await stream.text()).split('\n\n').filter((b) => b.includes('event: ')).map((b) => ({
      event: /event: (\w+)/.exec(b)![1],
      data: JSON.parse(/data: (.*)/.exec(b)![1]!) as Record<string, any>,
    }));
    expect(events[0]!.event).toBe('status');
    const end = events.at(-1)!;
    expect(end).toMatchObject({ event: 'completed', data: { job_id: id, status: 'completed' } });
    // Four tools: a progress event at each of the three boundaries between them.
    const boundaries = events
      .filter((e) => e.event === 'progress' && e.data['current_frame'] === 0 && e.data['percent'] === e.data['tools_completed'] * 25)
      .map((e) => e.data['tools_completed']);
    expect(boundaries).toEqual([1, 2, 3]);

    const names = (end.data['artifacts'] as Array<{ name: string }>).map((a) => a.name);
    expect(names).toEqual(expect.arrayContaining(['thumb-000000.jpg', 'thumb-000025.jpg', 'thumb-000050.jpg', 'sprite-001.jpg']));
    const thumb = await fetch(`${base}/v1/jobs/${id}/artifacts/thumb-000050.jpg`);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/jpeg');
    const bytes = Buffer.from(await thumb.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect([...bytes.subarray(-2)]).toEqual([0xff, 0xd9]);
    const path = join(media.dir, 'thumb.jpg');
    await writeFile(path, bytes);
    expect(await dimensions(path)).toEqual({ width: 160, height: 120 });

    const result = (await (await fetch(`${base}/v1/jobs/${id}/result`)).json()) as { total_frames: number; frames: Array<{ frame_index: number }>; summary: Record<string, unknown> };
    expect(result.total_frames).toBe(75);
    expect(result.frames.map((f) => f.frame_index)).toEqual([0, 25, 50]);
    expect(result.summary).toMatchObject({ frame_count: 3, thumbnail_count: 3 });
  });

  it('offers the plugin\'s pipeline in the gateway, loaded by name like the worker\'s', async () => {
    const body = (await (await fetch(`${base}/v1/pipelines`)).json()) as { pipelines: Array<{ name: string; source: string }> };
    expect(body.pipelines.find((p) => p.name === 'silence')).toMatchObject({ source: '@framewire/plugin-silence' });
    const workers = (await (await fetch(`${base}/v1/workers`)).json()) as { workers: Array<{ worker_id: string; pipelines: string[] }> };
    expect(workers.workers).toEqual([expect.objectContaining({ worker_id: 'e2e-pipelines-worker', pipelines: expect.arrayContaining(['silence', 'analyze']) })]);
  });
});
