import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication, INestMicroservice } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { gatewayEnvSchema, jobsEnvSchema, parseConfig, workerEnvSchema, type GatewayConfig } from '@app/config';
import { createLogger } from '@app/observability';
import { Clock } from '@app/runtime';
import { GatewayModule } from '../../apps/gateway/src/gateway.module.js';
import { MediaLinks } from '../../apps/gateway/src/auth/media-links.js';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { playlistUris } from '../support/hls.js';
import { testKeys, type TestKey } from '../support/keys.js';
import { startJobsService } from '../support/jobs-service.js';
import { eventually, freshNamespace, freshSchema, IN_PROCESS_OPS, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { makeVideo, mediaDir } from '../support/videos.js';

type Json = Record<string, any>;

const SECRET = 'hls-serving-test-secret-of-32-characters-or-more';

/** A clock stopped at `at`, for media links that expired (or were issued to someone else) long ago. */
class StoppedClock extends Clock {
  constructor(private readonly at: Date) {
    super();
  }
  now(): Date {
    return this.at;
  }
}

/**
 * Serving a job's HLS output over HTTP: the gateway, the jobs service and a worker in this process
 * against real NATS, PostgreSQL and ffmpeg; a job of the `hls` pipeline, and one of `thumbnails`
 * (for its storyboard). Artifacts by Range, HEAD and revalidation; the media link in
 * the path (what opens it, what does not, CORS); hls_url and storyboard_url; and ffprobe playing
 * the hls_url over plain HTTP like any player.
 */
describe('HLS output served to players', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let gateway: INestApplication;
  let jobs: INestMicroservice;
  let worker: TestingModule;
  let media: Awaited<ReturnType<typeof mediaDir>>;
  let clip: Uint8Array;
  let config: GatewayConfig;
  let base = '';
  let keys: Awaited<ReturnType<typeof testKeys>>;
  let acme: TestKey;
  let bravo: TestKey;
  /** acme's completed jobs: an `hls` one (240p and 360p), a `thumbnails` one (with its storyboard), a noop. */
  let hlsJob = '';
  let storyboardJob = '';
  let plainJob = '';

  const env = () => ({ ...IN_PROCESS_OPS, NATS_URL: TEST_NATS_URL, FRAMEWIRE_NAMESPACE: ns.namespace });
  const get = (path: string, headers: Record<string, string> = {}, key: TestKey | null = acme, method = 'GET') => fetch(`${base}${path}`, { method, headers: { ...(key?.headers ?? {}), ...headers } });
  const links = async (id: string, key: TestKey = acme) => {
    const res = await fetch(`${base}/v1/jobs/${id}/media-links`, { method: 'POST', headers: key.headers });
    expect(res.status).toBe(200);
    return (await res.json()) as Json;
  };
  const errorOf = async (res: Response) => [res.status, ((await res.json()) as Json)['error']['code']];

  async function submit(pipeline: string, params: Json = {}): Promise<string> {
    const form = new FormData();
    form.set('file', new Blob([clip as Uint8Array<ArrayBuffer>], { type: 'video/mp4' }), 'clip.mp4');
    form.set('pipeline', pipeline);
    form.set('params', JSON.stringify(params));
    const res = await fetch(`${base}/v1/jobs`, { method: 'POST', body: form, headers: acme.headers });
    expect(res.status).toBe(202);
    const id = ((await res.json()) as Json)['job_id'] as string;
    const view = await eventually(async () => {
      const body = (await (await get(`/v1/jobs/${id}`)).json()) as Json;
      return body['status'] === 'completed' || body['status'] === 'failed' ? body : undefined;
    }, 60_000, `job ${id} to end`);
    expect([view['status'], view['error']]).toEqual(['completed', null]);
    return id;
  }

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    media = await mediaDir();
    clip = await readFile(await makeVideo(join(media.dir, 'clip.mp4'), { seconds: 4, width: 640, height: 360, fps: 25, audio: true }));
    jobs = await startJobsService(parseConfig(jobsEnvSchema, { ...env(), DATABASE_URL: db.url, DATABASE_SCHEMA: db.schema }), ns.subjects);
    keys = await testKeys(db.schema);
    [acme, bravo] = await Promise.all([keys.create('acme'), keys.create('bravo')]);
    const workerConfig = parseConfig(workerEnvSchema, { ...env(), WORKER_ID: 'hls-worker', WORKER_CONCURRENCY: '1' });
    worker = await Test.createTestingModule({ imports: [WorkerModule.forRoot(workerConfig, createLogger('worker', 'silent'))] }).compile();
    await worker.init();
    config = parseConfig(gatewayEnvSchema, { ...env(), PORT: '0', HOST: '127.0.0.1', MEDIA_LINK_SECRET: SECRET });
    const gatewayRef = await Test.createTestingModule({ imports: [GatewayModule.forRoot(config, createLogger('gateway', 'silent'))] }).compile();
    gateway = gatewayRef.createNestApplication({ logger: false });
    await gateway.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(gateway.getHttpServer().address() as { port: number }).port}`;
    hlsJob = await submit('hls', { renditions: [240, 360], segment_seconds: 2 });
    storyboardJob = await submit('thumbnails', { frame_stride: 25, thumbnail_width: 160 });
    plainJob = await submit('noop');
  }, 120_000);

  afterAll(async () => {
    await worker?.close();
    await gateway?.close();
    await jobs?.close();
    await keys?.close();
    await ns?.cleanup();
    await db?.drop();
    await media?.cleanup();
  });

  it('serves an artifact with its stored type, whole or by Range (206, byte-exact), 416 outside it, HEAD without a body, 304 for its ETag', async () => {
    const listed = ((await (await get(`/v1/jobs/${hlsJob}/artifacts`)).json()) as Json)['artifacts'] as Json[];
    expect(Object.fromEntries(listed.map((a) => [a['name'], a['content_type']]))).toEqual({
      'master.m3u8': 'application/vnd.apple.mpegurl',
      'hls-240p.m3u8': 'application/vnd.apple.mpegurl',
      'hls-240p.mp4': 'video/mp4',
      'hls-360p.m3u8': 'application/vnd.apple.mpegurl',
      'hls-360p.mp4': 'video/mp4',
      'hls-audio.m3u8': 'application/vnd.apple.mpegurl',
      'hls-audio.mp4': 'audio/mp4',
    });

    const master = await get(`/v1/jobs/${hlsJob}/artifacts/master.m3u8`);
    expect([master.status, master.headers.get('content-type'), master.headers.get('accept-ranges'), master.headers.get('cache-control')]).toEqual([
      200,
      'application/vnd.apple.mpegurl',
      'bytes',
      'private, no-cache',
    ]);
    const etag = master.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    expect(await master.text()).toMatch(/^#EXTM3U/);

    const path = `/v1/jobs/${hlsJob}/artifacts/hls-240p.mp4`;
    const whole = Buffer.from(await (await get(path)).arrayBuffer());
    const size = whole.length;
    expect(size).toBe(listed.find((a) => a['name'] === 'hls-240p.mp4')!['size']);
    for (const [range, start, end] of [
      ['bytes=0-99', 0, 99],
      [`bytes=100-${size - 1}`, 100, size - 1],
      ['bytes=-500', size - 500, size - 1],
      [`bytes=10-${size + 1000}`, 10, size - 1],
    ] as const) {
      const res = await get(path, { Range: range });
      expect([range, res.status, res.headers.get('content-range'), res.headers.get('content-length')]).toEqual([range, 206, `bytes ${start}-${end}/${size}`, String(end - start + 1)]);
      expect(Buffer.from(await res.arrayBuffer()).equals(whole.subarray(start, end + 1))).toBe(true);
    }
    const outside = await get(path, { Range: `bytes=${size}-` });
    expect([outside.status, outside.headers.get('content-range')]).toEqual([416, `bytes */${size}`]);
    expect(await outside.json()).toMatchObject({ error: { code: 'RANGE_NOT_SATISFIABLE' } });

    const head = await get(path, { Range: 'bytes=0-9' }, acme, 'HEAD');
    expect([head.status, head.headers.get('content-length'), head.headers.get('content-range'), head.headers.get('content-type')]).toEqual([206, '10', `bytes 0-9/${size}`, 'video/mp4']);
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    const headWhole = await get(path, {}, acme, 'HEAD');
    expect([headWhole.status, headWhole.headers.get('content-length')]).toEqual([200, String(size)]);

    const revalidated = await get(`/v1/jobs/${hlsJob}/artifacts/master.m3u8`, { 'If-None-Match': etag });
    expect([revalidated.status, revalidated.headers.get('etag'), revalidated.headers.get('cache-control'), await revalidated.text()]).toEqual([304, etag, 'private, no-cache', '']);
    expect((await get(`/v1/jobs/${hlsJob}/artifacts/master.m3u8`, { 'If-None-Match': '"stale"' })).status).toBe(200);
    // Another tenant still gets nothing, ranged or not.
    expect(await errorOf(await get(path, { Range: 'bytes=0-9' }, bravo))).toEqual([404, 'JOB_NOT_FOUND']);
  });

  it('gives hls_url and storyboard_url, token in the path, only for a job that has that output', async () => {
    const issued = await links(hlsJob);
    const token = issued['token'] as string;
    expect(issued).toMatchObject({
      hls_url: `/v1/jobs/${hlsJob}/media/${token}/master.m3u8`,
      video_url: `/v1/jobs/${hlsJob}/video?token=${encodeURIComponent(token)}`,
    });
    expect(issued).not.toHaveProperty('storyboard_url');
    const storyboard = await links(storyboardJob);
    expect(storyboard).toMatchObject({ storyboard_url: `/v1/jobs/${storyboardJob}/media/${storyboard['token']}/storyboard.vtt` });
    expect(storyboard).not.toHaveProperty('hls_url');
    const plain = await links(plainJob);
    expect(plain).not.toHaveProperty('hls_url');
    expect(plain).not.toHaveProperty('storyboard_url');
  });

  it('opens the job\'s files by the token in the path alone, from any origin, and every file the playlists and the storyboard name', async () => {
    const issued = await links(hlsJob);
    const hlsUrl = new URL(issued['hls_url'], base);
    const origin = { Origin: 'https://player.example' };

    const master = await fetch(hlsUrl, { headers: origin });
    expect([master.status, master.headers.get('content-type'), master.headers.get('access-control-allow-origin'), master.headers.get('cache-control')]).toEqual([
      200,
      'application/vnd.apple.mpegurl',
      '*',
      'private, no-cache',
    ]);
    expect(master.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(master.headers.get('access-control-expose-headers')).toMatch(/Content-Range/);
    // Everything the master names, and everything they name, resolves against its URL and opens.
    const seen = new Set<string>();
    const follow = async (url: URL): Promise<void> => {
      if (seen.has(url.pathname)) return;
      seen.add(url.pathname);
      const res = await fetch(url, { headers: { ...origin, Range: 'bytes=0-1023' } });
      expect([url.pathname, res.status, res.headers.get('access-control-allow-origin')]).toEqual([url.pathname, 206, '*']);
      if (url.pathname.endsWith('.m3u8')) {
        const text = await (await fetch(url)).text();
        for (const uri of playlistUris(text)) await follow(new URL(uri, url));
      } else {
        await res.arrayBuffer();
      }
    };
    await follow(hlsUrl);
    expect([...seen].map((p) => p.split('/').at(-1)).sort()).toEqual(['hls-240p.m3u8', 'hls-240p.mp4', 'hls-360p.m3u8', 'hls-360p.mp4', 'hls-audio.m3u8', 'hls-audio.mp4', 'master.m3u8']);

    // The storyboard's cues name its sprite relatively, with a fragment.
    const storyboardUrl = new URL((await links(storyboardJob))['storyboard_url'], base);
    const vtt = await (await fetch(storyboardUrl)).text();
    const cue = /^(sprite-001\.jpg)#xywh=\d+,\d+,\d+,\d+$/m.exec(vtt)!;
    const sprite = await fetch(new URL(cue[0], storyboardUrl));
    expect([sprite.status, sprite.headers.get('content-type')]).toEqual([200, 'image/jpeg']);

    // A preflight, as a browser sends before a Range it does not send simply: answered without a token check.
    const preflight = await fetch(hlsUrl, { method: 'OPTIONS', headers: { ...origin, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/\bRange\b/);
    expect(preflight.headers.get('access-control-allow-methods')).toMatch(/\bGET\b.*\bHEAD\b/);
  });

  it('refuses a forged, altered, expired, other job\'s or other tenant\'s token (401), and a file the job does not have (404)', async () => {
    const issued = await links(hlsJob);
    const token = issued['token'] as string;
    const at = (t: string, name = 'master.m3u8', id = hlsJob) => `/v1/jobs/${id}/media/${t}/${name}`;
    const expired = new MediaLinks({ ...config, MEDIA_LINK_TTL_MS: 60_000 }, new StoppedClock(new Date(Date.now() - 3_600_000))).issue({ key_id: acme.keyId, tenant: 'acme', admin: false, name: 'x' }, hlsJob).token;
    const forged = `${Buffer.from(JSON.stringify({ k: acme.keyId, t: 'acme', a: true, e: 4102444800 })).toString('base64url')}.forged`;
    const plainToken = ((await links(plainJob)) as Json)['token'] as string;
    for (const [what, path, headers] of [
      ['forged', at(forged), {}],
      ['altered', at(`${token}x`), {}],
      ['expired', at(expired), {}],
      ["another job's", at(plainToken), {}],
      ['not a token', at('nothing'), {}],
      // A key does not open this route, nor does ?token=: only the token in the path.
      ['a key instead', at('nothing'), acme.headers],
      ['?token= instead', `${at('nothing')}?token=${encodeURIComponent(token)}`, {}],
    ] as const) {
      const res = await get(path, { ...headers, Origin: 'https://player.example' }, null);
      expect([what, res.status, res.headers.get('access-control-allow-origin'), ((await res.json()) as Json)['error']['code']]).toEqual([what, 401, '*', 'UNAUTHENTICATED']);
    }
    // A valid token to another tenant's job (signed as if bravo had asked) opens nothing: 404, as for no job.
    const bravoToken = new MediaLinks(config, new StoppedClock(new Date())).issue({ key_id: bravo.keyId, tenant: 'bravo', admin: false, name: 'x' }, hlsJob).token;
    expect(await errorOf(await get(at(bravoToken), {}, null))).toEqual([404, 'JOB_NOT_FOUND']);
    // A good token, a file the job does not have (or a name that is not a plain file name).
    expect(await errorOf(await get(at(token, 'hls-1080p.m3u8'), {}, null))).toEqual([404, 'ARTIFACT_NOT_FOUND']);
    expect(await errorOf(await get(at(token, '..%2Fvideo'), {}, null))).toEqual([400, 'INVALID_ARTIFACT_NAME']);
    // The plain job's token opens its own files (none), and the same route of another job not at all.
    expect(await errorOf(await get(at(plainToken, 'master.m3u8', plainJob), {}, null))).toEqual([404, 'ARTIFACT_NOT_FOUND']);
  });

  it('plays in ffprobe from the hls_url over plain HTTP: every variant\'s resolution, and its duration', async () => {
    const hlsUrl = new URL((await links(hlsJob))['hls_url'], base);
    const probe = async (url: URL) =>
      JSON.parse((await promisify(execFile)('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', url.href])).stdout) as {
        format: { duration: string };
        streams: Array<{ codec_type: string; width?: number; height?: number }>;
      };
    const master = await probe(hlsUrl);
    const sizes = master.streams.filter((s) => s.codec_type === 'video').map((s) => `${s.width}x${s.height}`);
    expect([...new Set(sizes)].sort()).toEqual(['426x240', '640x360']);
    expect(master.streams.some((s) => s.codec_type === 'audio')).toBe(true);
    expect(Number(master.format.duration)).toBeCloseTo(4, 0);
    const masterText = await (await fetch(hlsUrl)).text();
    for (const [playlist, size] of [['hls-240p.m3u8', '426x240'], ['hls-360p.m3u8', '640x360']] as const) {
      expect(masterText).toContain(playlist);
      const variant = await probe(new URL(playlist, hlsUrl));
      const video = variant.streams.find((s) => s.codec_type === 'video')!;
      expect([playlist, `${video.width}x${video.height}`, Math.round(Number(variant.format.duration))]).toEqual([playlist, size, 4]);
    }
  });
});
