import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import webvtt from 'webvtt-parser';
import { ARTIFACTS_DIR, launchChromium } from '../support/browser.js';
import { testKeys, type TestKey } from '../support/keys.js';
import { spawnService, type ServiceProcess } from '../support/processes.js';
import { eventually, freshNamespace, freshSchema, TEST_DATABASE_URL, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { makeVideo, mediaDir } from '../support/videos.js';

/**
 * The storyboard's seek-bar preview on a job's page, in Chromium against the built gateway, jobs
 * service and worker: hovering the bar under the video shows the tile of the storyboard.vtt cue at
 * the time under the pointer, with that time; a click seeks the video.
 */
describe('storyboard previews in the dashboard', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let media: Awaited<ReturnType<typeof mediaDir>>;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  let base = '';
  let studio: TestKey;
  const services: ServiceProcess[] = [];

  async function submit(video: string, pipeline: string, params: Record<string, unknown> = {}): Promise<string> {
    const form = new FormData();
    form.set('file', new Blob([await readFile(video)], { type: 'video/mp4' }), 'storyboard-clip.mp4');
    form.set('pipeline', pipeline);
    form.set('params', JSON.stringify(params));
    const res = await fetch(`${base}/v1/jobs`, { method: 'POST', body: form, headers: studio.headers });
    expect(res.status).toBe(202);
    const { job_id: id } = (await res.json()) as { job_id: string };
    await eventually(async () => {
      const job = (await (await fetch(`${base}/v1/jobs/${id}`, { headers: studio.headers })).json()) as { status: string };
      if (job.status === 'failed' || job.status === 'cancelled') throw new Error(`job ${id} ${job.status}`);
      return job.status === 'completed' ? true : undefined;
    }, 60_000, `${pipeline} job to complete`);
    return id;
  }

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    media = await mediaDir();
    const env = { NATS_URL: TEST_NATS_URL, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: db.schema, FRAMEWIRE_NAMESPACE: ns.namespace };
    const jobs = spawnService('jobs', 'jobs', env);
    const worker = spawnService('worker', 'worker', { ...env, WORKER_ID: 'storyboard-worker', WORKER_CONCURRENCY: '1' });
    const gateway = spawnService('gateway', 'gateway', { ...env, PORT: '0', HOST: '127.0.0.1' });
    services.push(jobs, worker, gateway);
    const [listening] = await Promise.all([gateway.waitForLine(/gateway listening/), jobs.waitForLine(/jobs service ready/), worker.waitForLine(/worker pulling jobs/)]);
    base = `http://127.0.0.1:${JSON.parse(listening).port}`;
    const keys = await testKeys(db.schema);
    studio = await keys.create('studio');
    await keys.close();
    browser = await launchChromium();
    page = await browser.context.newPage();
    // The operator enters a tenant's key, kept for the tab.
    await page.goto(base);
    await page.locator('[data-testid=api-key]').click();
    await page.locator('input[aria-label="API key"]').fill(studio.key);
    await page.locator('.key-form button[type=submit]').click();
    await page.locator('[data-testid=api-key]', { hasText: '✓' }).waitFor();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(services.map((s) => s.stop()));
    await ns?.cleanup();
    await db?.drop();
    await media?.cleanup();
  });

  it('shows the tile and the time under the pointer on the seek bar, and seeks the video on a click', async () => {
    // Ten seconds at 25 fps, a thumbnail every second: ten cues of a second, tiles of 160x120 in one row.
    const video = await makeVideo(join(media.dir, 'storyboard-clip.mp4'), { seconds: 10, width: 320, height: 240, fps: 25 });
    const id = await submit(video, 'thumbnails', { frame_stride: 25 });
    const vtt = await (await fetch(`${base}/v1/jobs/${id}/artifacts/storyboard.vtt`, { headers: studio.headers })).text();
    const cues = new webvtt.WebVTTParser().parse(vtt, 'metadata').cues;
    expect(cues).toHaveLength(10);
    const cueAt = (t: number) => cues.find((c) => c.startTime <= t && t < c.endTime)!;

    await page.goto(`${base}/jobs/${id}`);
    const bar = page.locator('[data-testid=storyboard-bar]');
    await bar.waitFor({ timeout: 15_000 });
    await page.waitForFunction(() => (document.querySelector('[data-testid=video]') as HTMLVideoElement | null)?.readyState! >= 1, undefined, { timeout: 15_000 });
    const duration = await page.locator('[data-testid=video]').evaluate((v: HTMLVideoElement) => v.duration);
    expect(duration).toBeCloseTo(10, 1);
    expect(Number(await bar.getAttribute('max'))).toBeCloseTo(duration, 3);

    const box = (await bar.boundingBox())!;
    const preview = page.locator('[data-testid=storyboard-preview]');
    const seen: string[] = [];
    for (const [share, label, xywh] of [
      [0.25, '0:02', '320,0,160,120'],
      [0.75, '0:07', '1120,0,160,120'],
    ] as const) {
      await bar.hover({ position: { x: box.width * share, y: box.height / 2 } });
      await preview.waitFor();
      const time = Number(await preview.getAttribute('data-time'));
      expect(Math.abs(time - share * duration)).toBeLessThan(0.05);
      expect(await page.locator('[data-testid=storyboard-time]').textContent()).toBe(label);
      // The tile is the cue's at that time, on the sheet it names, shown by background position.
      const cue = cueAt(time);
      expect(`${await preview.getAttribute('data-sheet')}#xywh=${await preview.getAttribute('data-xywh')}`).toBe(cue.text);
      expect(cue.text).toBe(`sprite-001.jpg#xywh=${xywh}`);
      const style = await page.locator('[data-testid=storyboard-tile]').evaluate((el) => {
        const s = getComputedStyle(el);
        return { position: s.backgroundPosition, image: s.backgroundImage, width: s.width, height: s.height };
      });
      const [x, y] = xywh.split(',');
      expect(style).toEqual({ position: `-${x}px ${y === '0' ? '0px' : `-${y}px`}`, image: expect.stringMatching(/^url\("blob:/), width: '160px', height: '120px' });
      seen.push(style.position);
      await page.screenshot({ path: join(ARTIFACTS_DIR, `storyboard-hover-${share * 100}.png`), fullPage: true });
    }
    expect(new Set(seen).size).toBe(2);

    // The sheet the tiles come from is the job's sprite-001.jpg, fetched through its media link.
    const image = await page.locator('[data-testid=storyboard-tile]').evaluate(async (el) => {
      const url = /url\("(.*)"\)/.exec(getComputedStyle(el).backgroundImage)![1]!;
      // An <img> (the page's Content-Security-Policy lets images, not fetch, read blob: URLs).
      const img = new Image();
      img.src = url;
      await img.decode();
      return [img.naturalWidth, img.naturalHeight];
    });
    expect(image).toEqual([10 * 160, 120]);

    // A click seeks the video there; leaving the bar hides the preview.
    await bar.click({ position: { x: box.width / 2, y: box.height / 2 } });
    await page.waitForFunction((d) => Math.abs((document.querySelector('[data-testid=video]') as HTMLVideoElement).currentTime - d / 2) < 0.5, duration, { timeout: 5_000 });
    await page.locator('[data-testid=job-detail]').hover();
    await preview.waitFor({ state: 'detached' });
  });

  it('shows no seek-bar preview for a job without a storyboard', async () => {
    const video = await makeVideo(join(media.dir, 'probe-clip.mp4'), { seconds: 1, width: 160, height: 120 });
    const id = await submit(video, 'probe');
    await page.goto(`${base}/jobs/${id}`);
    await page.waitForFunction(() => (document.querySelector('[data-testid=video]') as HTMLVideoElement | null)?.readyState! >= 1, undefined, { timeout: 15_000 });
    expect(await page.locator('[data-testid=storyboard]').count()).toBe(0);
  });
});
