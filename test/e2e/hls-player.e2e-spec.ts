import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import { ARTIFACTS_DIR, launchChromium } from '../support/browser.js';
import { testKeys, type TestKey } from '../support/keys.js';
import { serviceStarter, type ServiceProcess } from '../support/processes.js';
import { eventually, freshNamespace, freshSchema, TEST_DATABASE_URL, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { makeVideo, mediaDir } from '../support/videos.js';

/** The HLS job: the `hls` pipeline, 240p and 360p in 2 s segments. */
const HEIGHTS = [240, 360];

/**
 * The dashboard's HLS player in a real browser (Debian's Chromium, H.264 and AAC through Media
 * Source Extensions) against the built gateway, jobs service and worker as processes: the job page
 * of a completed HLS job plays it from the job's hls_url, time advances, and the rendition picker
 * switches the level that plays, after which time still advances.
 */
describe('the dashboard plays a job\'s HLS output', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let media: Awaited<ReturnType<typeof mediaDir>>;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  let base = '';
  let key: TestKey;
  let jobId = '';
  const services = new Map<string, ServiceProcess>();

  const start = serviceStarter(() => ({ NATS_URL: TEST_NATS_URL, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: db.schema, FRAMEWIRE_NAMESPACE: ns.namespace }), services);

  const video = () => page.locator('[data-testid=hls-video]');
  const currentTime = () => video().evaluate((v: HTMLVideoElement) => v.currentTime);
  /** Waits until the video has played `seconds` past where it is now. */
  async function advances(seconds: number) {
    const from = await currentTime();
    await page.waitForFunction(
      (target) => (document.querySelector('[data-testid=hls-video]') as HTMLVideoElement).currentTime >= target,
      from + seconds,
      { timeout: 20_000 },
    );
  }
  /** Picks a rendition by its label, then waits for hls.js to say that level plays and for its frames to show. */
  async function pick(height: number) {
    await page.locator('[data-testid=hls-rendition]').selectOption({ label: `${height}p` });
    await page.locator(`[data-testid=hls-player][data-height="${height}"]`).waitFor({ timeout: 20_000 });
    await page.waitForFunction((h) => (document.querySelector('[data-testid=hls-video]') as HTMLVideoElement).videoHeight === h, height, { timeout: 20_000 });
  }

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    media = await mediaDir();
    const clip = await makeVideo(join(media.dir, 'hls-clip.mp4'), { seconds: 12, width: 640, height: 360, fps: 25, audio: true });
    const jobs = start('jobs', 'jobs');
    const worker = start('worker', 'worker', { WORKER_ID: 'hls-browser-worker', WORKER_CONCURRENCY: '1' });
    const gateway = start('gateway', 'gateway', { PORT: '0', HOST: '127.0.0.1' });
    const [listening] = await Promise.all([gateway.waitForLine(/gateway listening/), jobs.waitForLine(/jobs service ready/), worker.waitForLine(/worker pulling jobs/)]);
    base = `http://127.0.0.1:${JSON.parse(listening).port}`;
    const keys = await testKeys(db.schema);
    key = await keys.create('studio', false, 'editor');
    await keys.close();

    const form = new FormData();
    form.set('file', new Blob([await readFile(clip)], { type: 'video/mp4' }), 'hls-clip.mp4');
    form.set('pipeline', 'hls');
    form.set('params', JSON.stringify({ renditions: HEIGHTS, segment_seconds: 2 }));
    const submitted = await fetch(`${base}/v1/jobs`, { method: 'POST', body: form, headers: key.headers });
    expect(submitted.status).toBe(202);
    jobId = ((await submitted.json()) as { job_id: string }).job_id;
    const status = await eventually(async () => {
      const view = (await (await fetch(`${base}/v1/jobs/${jobId}`, { headers: key.headers })).json()) as { status: string };
      return ['completed', 'failed'].includes(view.status) ? view.status : undefined;
    }, 60_000, 'the HLS job to end');
    expect(status).toBe('completed');

    browser = await launchChromium();
    page = await browser.context.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([...services.values()].map((s) => s.stop()));
    await ns?.cleanup();
    await db?.drop();
    await media?.cleanup();
  });

  it('has H.264 and AAC in Media Source Extensions (what hls.js needs)', async () => {
    await page.goto(base);
    const supported = await page.evaluate(() => [
      MediaSource.isTypeSupported('video/mp4; codecs="avc1.64001e"'),
      MediaSource.isTypeSupported('audio/mp4; codecs="mp4a.40.2"'),
    ]);
    expect(supported).toEqual([true, true]);
  });

  it('plays the job\'s HLS output on its page, and switches renditions with the picker while time advances', async () => {
    await page.locator('[data-testid=api-key]').click();
    await page.locator('input[aria-label="API key"]').fill(key.key);
    await page.locator('.key-form button[type=submit]').click();
    await page.locator('[data-testid=api-key]', { hasText: '✓' }).waitFor();
    await page.goto(`${base}/jobs/${jobId}`);

    // The picker offers Auto and each rendition, once hls.js has read the master playlist.
    const picker = page.locator('[data-testid=hls-rendition]');
    await page.locator('[data-testid=hls-rendition]:not([disabled])').waitFor({ timeout: 20_000 });
    expect(await picker.locator('option').allTextContents()).toEqual(['Auto', ...HEIGHTS.map((h) => `${h}p`)]);
    // The player fetched its files by the token in the path, not with the key.
    expect(await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.includes('/media/')).length)).toBeGreaterThan(0);

    await video().evaluate((v: HTMLVideoElement) => {
      v.muted = true;
      return v.play();
    });
    await advances(1);
    const first = Number(await page.locator('[data-testid=hls-player]').getAttribute('data-height'));
    expect(HEIGHTS).toContain(first);

    // Switch to the other rendition, then back: each time the level and the frames change, and it plays on.
    const other = HEIGHTS.find((h) => h !== first)!;
    await pick(other);
    await advances(1);
    await pick(first);
    await advances(1);
    expect(await video().evaluate((v: HTMLVideoElement) => [v.paused, v.error])).toEqual([false, null]);
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'dashboard-hls.png'), fullPage: true });

    // Auto hands the choice back to hls.js; playback carries on.
    await picker.selectOption({ label: 'Auto' });
    await advances(0.5);
    // (The figures and workers panels need an admin key: their notes are not this page's.)
    expect(await page.locator('[data-testid=media] [data-testid=error-note]').allTextContents()).toEqual([]);
  });
});
