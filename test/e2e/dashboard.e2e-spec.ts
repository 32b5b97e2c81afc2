import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page, Route } from 'playwright-core';
import type { JobEvent } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { ARTIFACTS_DIR, launchChromium } from '../support/browser.js';
import { videoSubmitted } from '../support/events.js';
import { testKeys, type TestKey } from '../support/keys.js';
import { serviceStarter, type ServiceProcess } from '../support/processes.js';
import { freshNamespace, freshSchema, TEST_DATABASE_URL, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { makeVideo, mediaDir, mp4Shell } from '../support/videos.js';
import { webhookReceiver } from '../support/webhook-receiver.js';

/**
 * The dashboard in a real browser (Debian's Chromium driven by playwright-core) against the built
 * gateway, jobs service and a worker running as processes. One browser and one page for the file:
 * the steps follow one operator's session.
 */
describe('the dashboard in a browser', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let media: Awaited<ReturnType<typeof mediaDir>>;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  let base = '';
  let video = '';
  let jobId = '';
  const services = new Map<string, ServiceProcess>();
  /** The operator's admin key, and a tenant's. */
  let admin: TestKey;
  let tenant: TestKey;

  const start = serviceStarter(() => ({ NATS_URL: TEST_NATS_URL, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: db.schema, FRAMEWIRE_NAMESPACE: ns.namespace }), services);

  const row = (id: string) => page.locator(`[data-testid=job-row][data-job-id="${id}"]`);

  /** What an operator does first: enter the API key (top right); it is kept for the tab. */
  async function enterKey(key: string) {
    await page.locator('[data-testid=api-key]').click();
    await page.locator('input[aria-label="API key"]').fill(key);
    await page.locator('.key-form button[type=submit]').click();
    await page.locator('[data-testid=api-key]', { hasText: '✓' }).waitFor();
  }

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    media = await mediaDir();
    video = await makeVideo(join(media.dir, 'dashboard-clip.mp4'), { seconds: 2, width: 320, height: 240 });
    // The webhook receiver is on loopback, over http; retries come quickly.
    const jobs = start('jobs', 'jobs', { WEBHOOK_ALLOW_HTTP: '1', WEBHOOK_ALLOW_PRIVATE_NETWORKS: '1', WEBHOOK_RETRY_BASE_MS: '200' });
    const worker = start('worker', 'worker', { WORKER_ID: 'browser-worker', WORKER_CONCURRENCY: '1' });
    // Tracing on (to a collector that is not there: spans are dropped), so a job has a trace id to link.
    const tracing = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', TRACE_UI_URL: 'http://127.0.0.1:16686' };
    const gateway = start('gateway', 'gateway', { PORT: '0', HOST: '127.0.0.1', RPC_TIMEOUT_MS: '1500', ...tracing });
    const [listening] = await Promise.all([
      gateway.waitForLine(/gateway listening/),
      jobs.waitForLine(/jobs service ready/),
      worker.waitForLine(/worker pulling jobs/),
    ]);
    base = `http://127.0.0.1:${JSON.parse(listening).port}`;
    const keys = await testKeys(db.schema);
    [admin, tenant] = await Promise.all([keys.create('ops', true, 'operator'), keys.create('studio')]);
    await keys.close();
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

  it('uploads a video through the page and shows it reach completed live, without a reload', async () => {
    await page.goto(base);
    // Without a key every panel says so, and how to fix it.
    const refused = page.locator('[data-testid=jobs-panel] [data-testid=error-note]');
    await refused.waitFor();
    expect(await refused.textContent()).toMatch(/UNAUTHENTICATED.*Enter an API key/);
    await enterKey(admin.key);
    await page.locator('[data-testid=feed-state]', { hasText: 'live' }).waitFor();
    await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));

    // The form sends the file by the resumable upload (tus-js-client): a creation, then PATCHes.
    const uploads: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname.startsWith('/v1/uploads')) uploads.push(request.method());
    });
    await page.locator('[data-testid=upload-file]').setInputFiles(video);
    await page.locator('[data-testid=upload-submit]').click();
    const result = page.locator('[data-testid=upload-result]');
    await result.waitFor();
    expect(await page.locator('[data-testid=upload-progress]').getAttribute('aria-valuenow')).toBe('100');
    jobId = (await result.locator('a').getAttribute('href'))!.replace('/jobs/', '');
    expect(jobId).toMatch(/^[0-9a-f-]{36}$/);
    expect(uploads.slice(0, 2)).toEqual(['POST', 'PATCH']);

    // The row appears and turns completed through the live feed alone.
    await row(jobId).and(page.locator('[data-status=completed]')).waitFor({ timeout: 30_000 });
    expect(await row(jobId).locator('[data-testid=status]').textContent()).toBe('completed');
    expect(await row(jobId).locator('[data-testid=row-progress]').getAttribute('aria-valuenow')).toBe('100');
    expect(await row(jobId).textContent()).toContain('dashboard-clip.mp4');
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);

    // The stream and consumer figures show both durable consumers and a projector that caught up.
    await page.locator('[data-testid=consumers] tr[data-consumer=projector]').waitFor();
    await page.locator('[data-testid=consumers] tr[data-consumer=workers]').waitFor();
    await page.locator('[data-testid=stream-messages]', { hasText: /^3 / }).waitFor({ timeout: 10_000 });
    await page.locator('[data-testid=projector-lag]', { hasText: '0 events (checkpoint 3)' }).waitFor({ timeout: 10_000 });
    // Every panel that refused before the key was entered answers now: the workers, the dead letters, the pipelines.
    await page.locator('[data-testid=worker-row]', { hasText: 'browser-worker' }).waitFor();
    await page.locator('[data-testid=dead-letters-panel]', { hasText: 'None.' }).waitFor();
    expect(await page.locator('[data-testid=error-note]').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'dashboard-jobs.png'), fullPage: true });
  });

  it('opens the job and shows its timeline and result', async () => {
    await row(jobId).locator('a').first().click();
    await page.waitForURL(`${base}/jobs/${jobId}`);
    const timeline = page.locator('[data-testid=timeline-event]');
    await timeline.nth(2).waitFor();
    expect(await timeline.evaluateAll((items) => items.map((li) => li.getAttribute('data-type')))).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted']);
    expect(await page.locator('[data-testid=detail-status]').textContent()).toBe('completed');
    expect(await page.locator('[data-testid=timeline]').textContent()).toContain('attempt 1 on browser-worker');
    // The job's trace (its upload's request), linked to the trace UI that TRACE_UI_URL names.
    const traceLink = page.locator('[data-testid=detail-trace-link]');
    await traceLink.waitFor();
    expect(await traceLink.getAttribute('href')).toBe(`http://127.0.0.1:16686/trace/${await traceLink.textContent()}`);
    expect(await traceLink.textContent()).toMatch(/^[0-9a-f]{32}$/);
    const resultText = await page.locator('[data-testid=result] pre').textContent();
    expect(JSON.parse(resultText!)).toMatchObject({ tools: { probe: { data: { width: 320, height: 240, codec: 'h264' } } } });
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'dashboard-job.png'), fullPage: true });

    // The <video> cannot send the key: it plays from the job's short-lived media link, and loads.
    const player = page.locator('[data-testid=video]');
    await player.waitFor();
    expect(await player.getAttribute('src')).toMatch(new RegExp(`^/v1/jobs/${jobId}/video\\?token=`));
    await page.waitForFunction(() => (document.querySelector('[data-testid=video]') as HTMLVideoElement | null)?.readyState! >= 1, undefined, { timeout: 15_000 });
    expect(await player.evaluate((v: HTMLVideoElement) => [v.videoWidth, v.videoHeight, Math.round(v.duration)])).toEqual([320, 240, 2]);

    // A deep link opens the same job (the gateway serves the app at /jobs/{id}).
    await page.goto(`${base}/jobs/${jobId}`);
    await page.locator('[data-testid=timeline-event]').nth(2).waitFor();
  });

  it('filters the list by status and pipeline', async () => {
    await page.goto(base);
    await row(jobId).waitFor();
    await page.locator('[data-testid=filter-status]').selectOption('failed');
    await page.locator('[data-testid=jobs-table] td.empty').waitFor();
    expect(await row(jobId).count()).toBe(0);
    await page.locator('[data-testid=filter-status]').selectOption('completed');
    await row(jobId).waitFor();
    await page.locator('[data-testid=filter-pipeline]').selectOption('probe');
    await row(jobId).waitFor();
    await page.locator('[data-testid=filter-status]').selectOption('');
  });

  it('sends the operator\'s API key on every request, the live feed included, and shows a tenant its own jobs only', async () => {
    const seen: Array<{ url: string; auth: string | undefined }> = [];
    const listen = (request: { url(): string; headers(): Record<string, string> }) => {
      if (new URL(request.url()).pathname.startsWith('/v1/')) seen.push({ url: request.url(), auth: request.headers()['authorization'] });
    };
    page.on('request', listen);
    try {
      await enterKey(tenant.key);
      await page.reload();
      await page.locator('[data-testid=feed-state]', { hasText: 'live' }).waitFor();
      // The operator's job belongs to another tenant: this key neither lists it nor gets its changes.
      await page.locator('[data-testid=jobs-table] td.empty').waitFor();
      expect(await row(jobId).count()).toBe(0);
      const figures = page.locator('[data-testid=system-panel] [data-testid=error-note]');
      await figures.waitFor();
      expect(await figures.textContent()).toMatch(/FORBIDDEN.*admin key/);
      const paths = new Set(seen.map((s) => new URL(s.url).pathname));
      expect([...paths]).toEqual(expect.arrayContaining(['/v1/jobs', '/v1/stream/jobs', '/v1/system']));
      expect(seen.filter((s) => s.auth !== `Bearer ${tenant.key}`)).toEqual([]);
    } finally {
      page.off('request', listen);
      await enterKey(admin.key);
    }
  });

  it('lists an event the read model parked in the stream panel, linked to its job', async () => {
    const store = new EventStore(ns.nc, ns.subjects);
    const poison: JobEvent = { ...videoSubmitted(), occurredAt: '0000-01-01T00:00:00Z' }; // valid, but no timestamptz has year 0
    const { seq } = await store.append(poison, 0);
    const entry = page.locator(`[data-testid=system-panel] [data-testid=parked-events] tr[data-seq="${seq}"]`);
    await entry.waitFor({ timeout: 20_000 });
    expect(await page.locator('[data-testid=parked-count]').textContent()).toBe('1');
    expect(await entry.locator('a').getAttribute('href')).toBe(`/jobs/${poison.jobId}`);
    expect(await entry.textContent()).toMatch(/VideoSubmitted v2.*22008/);
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'dashboard-parked-event.png'), fullPage: true });
  });

  it('registers a webhook on its page, shows the secret once, and a delivery that failed, then went through, and a retry', async () => {
    // The receiver refuses the first attempt (500) and holds the second until the page has shown the
    // first; then it takes everything (200).
    let letThrough!: () => void;
    const held = new Promise<void>((resolve) => (letThrough = resolve));
    const receiver = await webhookReceiver(async (_hook, before) => {
      const n = before.length;
      if (n === 0) return 500;
      if (n === 1) await held;
      return 200;
    });
    try {
      await page.locator('[data-testid=nav-webhooks]').click();
      await page.locator('[data-testid=webhooks-page]').waitFor();
      await page.locator('[data-testid=webhooks-panel]', { hasText: 'No endpoints yet.' }).waitFor();
      await page.locator('[data-testid=webhook-url]').fill(receiver.url);
      await page.locator('[data-testid=webhook-description]').fill('browser receiver');
      // The form's default events: how each job ended.
      for (const [type, on] of [['job.completed', true], ['job.failed', true], ['job.cancelled', true], ['job.started', false], ['job.progress', false]] as const) {
        expect([type, await page.locator(`[data-testid="webhook-event-${type}"]`).isChecked()]).toEqual([type, on]);
      }
      await page.locator('[data-testid=webhook-submit]').click();
      const secret = page.locator('[data-testid=webhook-secret]');
      await secret.waitFor();
      expect(await secret.textContent()).toMatch(/^whsec_[A-Za-z0-9+/=]+$/);
      const endpoint = page.locator('[data-testid=webhook-row]', { hasText: receiver.url });
      await endpoint.waitFor();
      expect(await endpoint.textContent()).toMatch(/job\.completed, job\.failed, job\.cancelled.*enabled.*browser receiver/);
      await page.locator('[data-testid=webhook-detail]', { hasText: 'No deliveries yet.' }).waitFor();
      await page.screenshot({ path: join(ARTIFACTS_DIR, 'dashboard-webhook-created.png'), fullPage: true });

      // A job, uploaded as before, ends; its job.completed goes to the receiver.
      await page.locator('nav a', { hasText: 'Jobs' }).click();
      await page.locator('[data-testid=upload-file]').setInputFiles(video);
      await page.locator('[data-testid=upload-submit]').click();
      const hookedJob = (await page.locator('[data-testid=upload-result] a').getAttribute('href'))!.replace('/jobs/', '');
      // The second attempt, held, comes only once the first (refused) is stored.
      const [refused, secondAttempt] = await receiver.waitFor(2);
      expect(refused!.json).toMatchObject({ type: 'job.completed', data: { job_id: hookedJob, status: 'completed' } });
      expect(secondAttempt!.id).toBe(refused!.id);

      // Back on the page the secret is gone for good; the delivery shows the refusal, due again.
      await page.locator('[data-testid=nav-webhooks]').click();
      await endpoint.locator('[data-testid=webhook-select]').click();
      expect(await secret.count()).toBe(0);
      const delivery = page.locator(`[data-testid=delivery-row][data-delivery-id="${refused!.id}"]`);
      await delivery.waitFor();
      expect(await delivery.locator('[data-testid=status]').textContent()).toBe('pending');
      expect(await delivery.locator('td').evaluateAll((cells) => cells.slice(1, 5).map((td) => td.textContent))).toEqual(['job.completed', `${hookedJob.slice(0, 8)}…${hookedJob.slice(-4)}`, '1', 'HTTP 500']);
      await page.screenshot({ path: join(ARTIFACTS_DIR, 'dashboard-webhook-retrying.png'), fullPage: true });

      // The second attempt goes through. The page polls every 5 s; the operator opens the deliveries
      // again rather than wait (if that look comes before the attempt is stored, the poll shows it).
      letThrough();
      await receiver.waitFor(1, (r) => r.answered === 200);
      await endpoint.locator('[data-testid=webhook-select]', { hasText: 'Hide deliveries' }).click();
      await endpoint.locator('[data-testid=webhook-select]', { hasText: 'Deliveries' }).click();
      await delivery.locator('[data-testid=status]', { hasText: 'delivered' }).waitFor({ timeout: 10_000 });
      expect(await delivery.locator('td').evaluateAll((cells) => cells.slice(3, 5).map((td) => td.textContent))).toEqual(['2', 'HTTP 200']);
      expect(receiver.received.map((r) => [r.id, r.answered])).toEqual([
        [refused!.id, 500],
        [refused!.id, 200],
      ]);

      // Retry sends it again, with the same webhook-id.
      await delivery.locator('[data-testid=delivery-retry]').click();
      await delivery.locator('.action .ok', { hasText: 'done' }).waitFor();
      const [, , again] = await receiver.waitFor(3, (r) => r.id === refused!.id);
      expect(again!.json.data.job_id).toBe(hookedJob);
      expect(receiver.received).toHaveLength(3);
    } finally {
      await receiver.close();
    }
  });

  it('deletes a job from its page once the operator confirms, and the list drops it', async () => {
    await page.goto(`${base}/jobs/${jobId}`);
    const remove = page.locator('[data-testid=detail-delete]');
    // Dismissed: nothing happens.
    page.once('dialog', (dialog) => void dialog.dismiss());
    await remove.click();
    await page.locator('[data-testid=detail-status]', { hasText: 'completed' }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/jobs/${jobId}`);
    // Confirmed: back on the list, without the job, which the API no longer knows.
    page.once('dialog', (dialog) => void dialog.accept());
    await remove.click();
    await page.waitForURL(`${base}/`);
    await page.locator('[data-testid=feed-state]', { hasText: 'live' }).waitFor();
    await row(jobId).waitFor({ state: 'detached', timeout: 10_000 });
    const answer = await fetch(`${base}/v1/jobs/${jobId}`, { headers: { Authorization: `Bearer ${admin.key}` } });
    expect(answer.status).toBe(404);
  });

  it('resumes an upload cut off by a reload from where the gateway holds it, when the same file is sent again', async () => {
    await page.goto(base);
    await enterKey(admin.key);
    // 20 MiB: the form sends 16 MiB per PATCH. The first PATCH arrives, every later one is cut off.
    const big = join(media.dir, 'dashboard-big.mp4');
    await writeFile(big, mp4Shell(23, 20 * 1024 * 1024));
    const cutOff = (route: Route) => (route.request().method() === 'PATCH' && route.request().headers()['upload-offset'] !== '0' ? route.abort() : route.continue());
    await page.route('**/v1/uploads/**', cutOff);
    const firstPatch = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.status() === 204);
    await page.locator('[data-testid=upload-file]').setInputFiles(big);
    await page.locator('[data-testid=upload-submit]').click();
    const uploadUrl = (await firstPatch).url();
    const held = Number((await fetch(uploadUrl, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0', Authorization: `Bearer ${admin.key}` } })).headers.get('upload-offset'));
    expect(held).toBe(16 * 1024 * 1024);

    // The tab is reloaded (or closed and opened again); the same file is sent again.
    await page.reload();
    await page.unroute('**/v1/uploads/**', cutOff);
    const requests: string[] = [];
    const onRequest = (request: { url(): string; method(): string }) => {
      if (new URL(request.url()).pathname.startsWith('/v1/uploads')) requests.push(`${request.method()} ${request.url() === uploadUrl ? 'same' : 'other'}`);
    };
    page.on('request', onRequest);
    await page.locator('[data-testid=upload-file]').setInputFiles(big);
    await page.locator('[data-testid=upload-submit]').click();
    const result = page.locator('[data-testid=upload-result]');
    await result.waitFor({ timeout: 30_000 });
    page.off('request', onRequest);
    // No new upload: the page asked where the old one stood and sent the rest (4 MiB) to it.
    expect(requests).toEqual(['HEAD same', 'PATCH same']);
    const resumedJob = (await result.locator('a').getAttribute('href'))!.replace('/jobs/', '');
    const video = await fetch(`${base}/v1/jobs/${resumedJob}/video`, { method: 'HEAD', headers: { Authorization: `Bearer ${admin.key}` } });
    expect(video.headers.get('content-length')).toBe(String((await stat(big)).size));
    // Finished: the page forgets it.
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tus::')))).toEqual([]);
  });

  it('says clearly when a route answers an error, and when the jobs service is gone', async () => {
    // Routes of issues #4 and #5 (workers, dead letters) are not served by every gateway: the panels
    // show either their data or the error, never nothing.
    for (const panel of ['workers-panel', 'dead-letters-panel']) {
      await page.locator(`[data-testid=${panel}]`).locator('[data-testid=error-note], [data-testid=worker-row], p.muted').first().waitFor();
    }
    const deadLetters = page.locator('[data-testid=dead-letters-panel] [data-testid=error-note]');
    if (await deadLetters.count()) expect(await deadLetters.textContent()).toMatch(/NOT_FOUND|HTTP_404/);

    expect(await services.get('jobs')!.stop('SIGTERM')).toBe(0);
    await page.reload();
    const jobsError = page.locator('[data-testid=jobs-panel] [data-testid=error-note]');
    await jobsError.waitFor({ timeout: 15_000 });
    expect(await jobsError.textContent()).toContain('SERVICE_UNAVAILABLE');
    await page.locator('[data-testid=projector-lag]', { hasText: 'unknown' }).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'dashboard-jobs-service-down.png'), fullPage: true });
  });
});
