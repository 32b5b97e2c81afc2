import { randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestMicroservice } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { jetstreamManager } from '@nats-io/jetstream';
import WebSocket from 'ws';
import { KeyQuery, type VideoSubmitted } from '@app/contracts';
import { jobsEnvSchema, parseConfig } from '@app/config';
import { EventStore } from '@app/event-store';
import { startGateway } from '../support/gateway.js';
import { testKeys, type TestKey } from '../support/keys.js';
import { publishAsOlderRelease } from '../support/events.js';
import { multipart, rawRequest, send } from '../support/raw-http.js';
import { eventually, freshNamespace, freshSchema, IN_PROCESS_OPS, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { startJobsService } from '../support/jobs-service.js';
import { mp4Shell } from '../support/videos.js';

/** The gateway's limits in this suite: small, so that reaching them is cheap. */
const AUTH_FAILURE_LIMIT = 8;
const STREAMS_PER_KEY = 3;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * What one client can do to the others through the gateway, with the gateway and the jobs service in
 * this process over real HTTP, NATS and PostgreSQL (no worker: jobs stay queued, so live streams stay
 * open): learn that another tenant's job exists (it cannot, as of any point), break a download with a
 * file name (it cannot), make every request with a made-up key cost a lookup (only up to a limit per
 * client address), and hold live streams without end (only up to a limit per key).
 */
describe('the gateway against one abusive client', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let store: EventStore;
  let gateway: NestExpressApplication;
  let jobs: INestMicroservice;
  let port = 0;
  let keys: Awaited<ReturnType<typeof testKeys>>;
  let acme: TestKey;
  let bravo: TestKey;
  let admin: TestKey;
  /** keys.verify requests the jobs service has received (each one a database query). */
  let verifyRequests = 0;

  /** A request over a socket bound to `from` (another client address on the loopback network). */
  function call(path: string, init: { method?: string; headers?: Record<string, string>; body?: Buffer; from?: string } = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers ?? {}, localAddress: init.from ?? '127.0.0.1', agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end(init.body);
    });
  }
  const get = (path: string, key: TestKey | null = acme, headers: Record<string, string> = {}) => call(path, { headers: { ...(key?.headers ?? {}), ...headers } });
  const errorOf = (reply: Reply) => (JSON.parse(reply.body) as { error?: { code: string; message: string } }).error;
  const randomKey = () => `fwk_${randomBytes(32).toString('base64url')}`;

  async function submit(key: TestKey, filenameHeader = 'filename="clip.mp4"'): Promise<string> {
    const { body, contentType } = multipart([{ name: 'file', data: mp4Shell(7), filename: 'clip.mp4' }, { name: 'pipeline', data: 'noop' }]);
    const withName = Buffer.from(body.toString('latin1').replace('filename="clip.mp4"', filenameHeader), 'latin1');
    const reply = await call('/v1/jobs', { method: 'POST', headers: { ...key.headers, 'Content-Type': contentType }, body: withName });
    expect(reply.status).toBe(202);
    return (JSON.parse(reply.body) as { job_id: string }).job_id;
  }

  /** An open SSE response; `close()` hangs up, `ended` resolves with everything read once the server ends it. */
  function openStream(path: string, key: TestKey, headers: Record<string, string> = {}) {
    return new Promise<{ status: number; body: () => string; ended: Promise<string>; close: () => void }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, headers: { ...key.headers, ...headers }, agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        const ended = new Promise<string>((done) => res.on('close', () => done(text)));
        resolve({ status: res.statusCode ?? 0, body: () => text, ended, close: () => req.destroy() });
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** A WebSocket to a job's updates: resolves open, or with the HTTP status it was refused with. */
  function openSocket(jobId: string, key: TestKey, from = '127.0.0.1') {
    return new Promise<{ ws: WebSocket; status: number }>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws/jobs/${jobId}`, { headers: key.headers, localAddress: from });
      ws.on('open', () => resolve({ ws, status: 101 }));
      ws.on('unexpected-response', (_req, res) => {
        res.resume();
        resolve({ ws, status: res.statusCode ?? 0 });
      });
      ws.on('error', () => undefined);
    });
  }

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    store = new EventStore(ns.nc, ns.subjects);
    const env = { NATS_URL: TEST_NATS_URL, FRAMEWIRE_NAMESPACE: ns.namespace };
    const jobsConfig = parseConfig(jobsEnvSchema, { ...IN_PROCESS_OPS, ...env, DATABASE_URL: db.url, DATABASE_SCHEMA: db.schema });
    jobs = await startJobsService(jobsConfig, ns.subjects);
    ns.nc.subscribe(ns.subjects.rpc(KeyQuery.Verify), { callback: () => void verifyRequests++ });
    keys = await testKeys(db.schema);
    [acme, bravo, admin] = await Promise.all([keys.create('acme'), keys.create('bravo'), keys.create('ops', true)]);

    ({ app: gateway, port } = await startGateway({
      ...env,
      AUTH_FAILURE_LIMIT: String(AUTH_FAILURE_LIMIT),
      AUTH_FAILURE_WINDOW_MS: '600000',
      MAX_LIVE_STREAMS_PER_KEY: String(STREAMS_PER_KEY),
    }));
  });

  afterAll(async () => {
    await gateway?.close();
    await jobs?.close();
    await keys?.close();
    await ns.cleanup();
    await db.drop();
  });

  it('refuses bad fields sent before the file with a 400 before any of the file is stored, without waiting for the body to end', async () => {
    const jsm = await jetstreamManager(ns.nc);
    const chunks = async () => {
      const info = await jsm.streams.info(`OBJ_${ns.subjects.videoBucket}`, { subjects_filter: `$O.${ns.subjects.videoBucket}.C.>` }).catch(() => null);
      return Object.values(info?.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
    };
    const before = await chunks();
    const cases: Array<[Record<string, string>, string]> = [
      [{ pipeline: 'mine-bitcoin' }, 'UNKNOWN_PIPELINE'],
      [{ priority: 'urgent' }, 'VALIDATION_FAILED'],
      [{ params: '{nope' }, 'INVALID_PARAMS'],
      [{ pipeline: 'thumbnails', params: '{"frame_stride":-1}' }, 'INVALID_PARAMS'],
    ];
    for (const [fields, code] of cases) {
      // The fields, then the file's head, and then nothing: the body never ends.
      const reply = await rawRequest(port, async (socket) => {
        const boundary = 'early-boundary';
        const parts = Object.entries(fields).map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
        await send(socket, `POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${acme.key}\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 100000000\r\n\r\n`);
        await send(socket, `${parts.join('')}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="clip.mp4"\r\nContent-Type: video/mp4\r\n\r\n`);
        await send(socket, Buffer.from(mp4Shell(7, 64 * 1024)));
      }, 15_000);
      expect({ fields, status: reply?.status, code: reply ? (JSON.parse(reply.body) as { error: { code: string } }).error.code : null }).toEqual({ fields, status: 400, code });
    }
    expect(await chunks()).toBe(before);
  });

  it("answers another tenant's job as of any point exactly as a job that does not exist", async () => {
    const jobId = await submit(acme);
    const never = randomUUID();
    const points = ['999999', '1', 'seq:999999', 'seq:1', '2000-01-01', '2999-01-01T00:00:00Z'];
    for (const point of points) {
      const foreign = await get(`/v1/jobs/${jobId}?as_of=${encodeURIComponent(point)}`, bravo);
      const missing = await get(`/v1/jobs/${never}?as_of=${encodeURIComponent(point)}`, bravo);
      expect({ point, status: foreign.status, error: errorOf(foreign) }).toEqual({ point, status: 404, error: { code: 'JOB_NOT_FOUND', message: `no job ${jobId}` } });
      expect({ point, status: missing.status, error: errorOf(missing) }).toEqual({ point, status: 404, error: { code: 'JOB_NOT_FOUND', message: `no job ${never}` } });
    }
    // The owner and an admin still see the job's history, and its end.
    expect(errorOf(await get(`/v1/jobs/${jobId}?as_of=999999`, acme))).toEqual({ code: 'EVENT_NOT_FOUND', message: expect.stringContaining('has 1 events') });
    expect((await get(`/v1/jobs/${jobId}?as_of=1`, admin)).status).toBe(200);
    expect(JSON.parse((await get(`/v1/jobs/${jobId}?as_of=seq:999999`, acme)).body)).toMatchObject({ job_id: jobId, as_of: { event: 1 } });
  });

  it('serves a video whose stored file name is anything at all with a safe Content-Disposition', async () => {
    // A name given as RFC 5987 filename* in the upload: Cyrillic, an emoji, quotes.
    const jobId = await submit(acme, `filename*=utf-8''${encodeURIComponent('видео "final" 🎬.mp4')}`);
    const served = await get(`/v1/jobs/${jobId}/video`);
    expect(served.status).toBe(200);
    const disposition = String(served.headers['content-disposition']);
    expect(disposition).toMatch(/^inline; filename="[\x20-\x7e]*"; filename\*=UTF-8''[\x21-\x7e]+$/);
    expect(decodeURIComponent(disposition.split("filename*=UTF-8''")[1]!)).toBe('видео "final" 🎬.mp4');

    // Names from older events, stored before file names were cleaned: control characters, a lone
    // surrogate, CR LF (header injection), a path, nothing printable at all.
    const source = (await store.firstSubmission(jobId))!;
    const template = (source.ok ? source.stored.event : null) as VideoSubmitted;
    for (const filename of ['a\u0000b\r\nSet-Cookie: x=1.mp4', '\ud83c.mp4', '../../etc/\u202epasswd', '\u0001\u0002', '"', 'ä'.repeat(255)]) {
      const id = randomUUID();
      const event: VideoSubmitted = { ...template, eventId: randomUUID(), jobId: id, data: { ...template.data, video: { ...template.data.video, filename } } };
      await publishAsOlderRelease(ns.nc, store.subjectOf(event), event);
      const reply = await get(`/v1/jobs/${id}/video`);
      expect({ filename, status: reply.status }).toEqual({ filename, status: 200 });
      const header = String(reply.headers['content-disposition']);
      expect({ filename, header }).toEqual({ filename, header: expect.stringMatching(/^inline; filename=("[\x20-\x7e]*"|[\x21-\x7e]+)(; filename\*=UTF-8''[\x21-\x7e]+)?$/) });
      expect(reply.headers['set-cookie']).toBeUndefined();
    }
  });

  it('stops looking up made-up keys from one client address after AUTH_FAILURE_LIMIT failures, and locks no one else out', async () => {
    const attacker = '127.0.0.2';
    // A valid key, cached from an earlier request, still works from the attacker's address.
    expect((await get('/v1/jobs?limit=1', acme)).status).toBe(200);
    const lookupsBefore = verifyRequests;
    const replies: Reply[] = [];
    for (let i = 0; i < AUTH_FAILURE_LIMIT * 3; i++) replies.push(await call('/v1/jobs?limit=1', { headers: { Authorization: `Bearer ${randomKey()}` }, from: attacker }));
    expect(replies.slice(0, AUTH_FAILURE_LIMIT).map((r) => r.status)).toEqual(Array(AUTH_FAILURE_LIMIT).fill(401));
    const limited = replies.slice(AUTH_FAILURE_LIMIT);
    expect(limited.map((r) => [r.status, errorOf(r)?.code])).toEqual(limited.map(() => [429, 'RATE_LIMITED']));
    expect(Number(limited[0]!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Only the first AUTH_FAILURE_LIMIT keys cost a lookup.
    await eventually(async () => (verifyRequests - lookupsBefore >= AUTH_FAILURE_LIMIT ? true : undefined), 5_000, 'the lookups to arrive');
    expect(verifyRequests - lookupsBefore).toBe(AUTH_FAILURE_LIMIT);
    // The same goes for a WebSocket handshake, which authenticates outside the guard, and for a malformed key.
    expect((await openSocket(randomUUID(), { key: '', keyId: '', tenant: '', headers: { Authorization: `Bearer ${randomKey()}` } }, attacker)).status).toBe(429);
    expect((await call('/v1/jobs', { headers: { Authorization: 'Bearer hunter2' }, from: attacker })).status).toBe(429);
    // No key at all costs nothing and is an ordinary 401 (a dashboard waiting for its key keeps saying so).
    expect(errorOf(await call('/v1/jobs', { from: attacker }))?.code).toBe('UNAUTHENTICATED');
    expect(verifyRequests - lookupsBefore).toBe(AUTH_FAILURE_LIMIT);

    // The valid key that the gateway knows passes from the attacker's address too, without a lookup.
    expect((await call('/v1/jobs?limit=1', { headers: acme.headers, from: attacker })).status).toBe(200);
    // Another address is not touched: its valid keys work, and a bad key there is an ordinary 401.
    expect((await get('/v1/jobs?limit=1', bravo)).status).toBe(200);
    const elsewhere = await call('/v1/jobs', { headers: { Authorization: `Bearer ${randomKey()}` } });
    expect([elsewhere.status, errorOf(elsewhere)?.code]).toEqual([401, 'UNAUTHENTICATED']);
  });

  it('bounds the lookups of a concurrent flood by the same limit, and lets concurrent requests with a valid key through on one lookup', async () => {
    const before = verifyRequests;
    const flood = await Promise.all(Array.from({ length: AUTH_FAILURE_LIMIT * 4 }, () => call('/v1/jobs?limit=1', { headers: { Authorization: `Bearer ${randomKey()}` }, from: '127.0.0.3' })));
    expect(flood.filter((r) => r.status === 401)).toHaveLength(AUTH_FAILURE_LIMIT);
    expect(flood.filter((r) => r.status === 429)).toHaveLength(AUTH_FAILURE_LIMIT * 3);
    await eventually(async () => (verifyRequests - before >= AUTH_FAILURE_LIMIT ? true : undefined), 5_000, 'the lookups to arrive');
    expect(verifyRequests - before).toBe(AUTH_FAILURE_LIMIT);

    // A key the gateway has not seen yet, used by many requests at once: they share one lookup and spend nothing.
    const fresh = await keys.create('acme', false, 'fresh');
    const beforeFresh = verifyRequests;
    const atOnce = await Promise.all(Array.from({ length: AUTH_FAILURE_LIMIT * 2 }, () => call('/v1/jobs?limit=1', { headers: fresh.headers, from: '127.0.0.4' })));
    expect(atOnce.map((r) => r.status)).toEqual(Array(AUTH_FAILURE_LIMIT * 2).fill(200));
    await eventually(async () => (verifyRequests > beforeFresh ? true : undefined), 5_000, 'the lookup to arrive');
    expect(verifyRequests - beforeFresh).toBe(1);
    const more = await Promise.all(Array.from({ length: AUTH_FAILURE_LIMIT }, () => call('/v1/jobs', { headers: { Authorization: `Bearer ${randomKey()}` }, from: '127.0.0.4' })));
    expect(more.map((r) => r.status)).toEqual(Array(AUTH_FAILURE_LIMIT).fill(401));
  });

  it('caps the live streams one key holds open (SSE, live feed, WebSocket), not another key\'s, and frees a slot when a client leaves', async () => {
    const jobId = await submit(acme);
    const sse = await openStream(`/v1/jobs/${jobId}/stream`, acme);
    const feed = await openStream('/v1/stream/jobs', acme);
    const socket = await openSocket(jobId, acme);
    expect([sse.status, feed.status, socket.status]).toEqual([200, 200, 101]);

    const over = await get(`/v1/jobs/${jobId}/stream`, acme);
    expect([over.status, errorOf(over)?.code]).toEqual([429, 'TOO_MANY_STREAMS']);
    expect(Number(over.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect([(await get('/v1/stream/jobs', acme)).status, (await openSocket(jobId, acme)).status]).toEqual([429, 429]);

    const other = await openStream('/v1/stream/jobs', bravo);
    expect(other.status).toBe(200);
    other.close();

    // A client that leaves gives its slot back: the live feed's, then the WebSocket's.
    const reopen = () =>
      eventually(async () => {
        const attempt = await openStream(`/v1/jobs/${jobId}/stream`, acme);
        if (attempt.status === 200) return attempt;
        await attempt.ended;
        return undefined;
      }, 10_000, 'a slot to be given back');
    feed.close();
    const second = await reopen();
    socket.ws.terminate();
    const third = await reopen();
    expect((await get(`/v1/jobs/${jobId}/stream`, acme)).status).toBe(429);
    for (const open of [sse, second, third]) open.close();
  });

  it('gives back the slot of a refused WebSocket handshake even when the client never closes its side', async () => {
    const holder = await keys.create('acme', false, 'half-open');
    // Handshakes for jobs that do not exist, from a client that keeps its side of each connection open.
    const refused = await Promise.all(
      Array.from({ length: STREAMS_PER_KEY }, () =>
        new Promise<{ socket: Socket; reply: string }>((resolve, reject) => {
          const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
          let reply = '';
          socket.on('data', (chunk: Buffer) => (reply += chunk.toString('latin1')));
          socket.on('end', () => resolve({ socket, reply }));
          socket.on('error', reject);
          socket.write(
            `GET /v1/ws/jobs/${randomUUID()} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
              `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nAuthorization: Bearer ${holder.key}\r\n\r\n`,
          );
        }),
      ),
    );
    try {
      expect(refused.map(({ reply }) => reply.split('\r\n')[0])).toEqual(refused.map(() => 'HTTP/1.1 404 Not Found'));
      // The key's slots are free: its live feed opens.
      const feed = await eventually(async () => {
        const attempt = await openStream('/v1/stream/jobs', holder);
        if (attempt.status === 200) return attempt;
        attempt.close();
        return undefined;
      }, 5_000, 'the refused handshakes to give their slots back');
      feed.close();
    } finally {
      for (const { socket } of refused) socket.destroy();
    }
  });

  it('resumes from a huge Last-Event-ID without holding a consumer past the job\'s end', async () => {
    const jobId = await submit(acme);
    const stream = await openStream(`/v1/jobs/${jobId}/stream`, admin, { 'Last-Event-ID': '999999999999' });
    expect(stream.status).toBe(200);
    // The job ends while the stream is open: the stream must see the end and close.
    expect((await call(`/v1/jobs/${jobId}/cancel`, { method: 'POST', headers: acme.headers })).status).toBe(202);
    await eventually(async () => (/event: cancelled/.test(stream.body()) ? true : undefined), 15_000, 'the stream to see the job end');
    await stream.ended;

    // Resuming an ended job at or past its end: nothing more will come, so no stream at all (204,
    // which tells an EventSource to stop reconnecting).
    const last = await store.lastLifecycle(jobId);
    const lastSeq = last?.ok ? last.stored.seq : 0;
    expect(lastSeq).toBeGreaterThan(0);
    for (const lastEventId of ['999999999999', String(lastSeq)]) {
      const ended = await openStream(`/v1/jobs/${jobId}/stream`, admin, { 'Last-Event-ID': lastEventId });
      expect({ lastEventId, status: ended.status }).toEqual({ lastEventId, status: 204 });
      await ended.ended;
    }
    // From before the end, the rest of the job is replayed and the stream closes.
    const replay = await openStream(`/v1/jobs/${jobId}/stream`, admin, { 'Last-Event-ID': String(lastSeq - 1) });
    expect(await replay.ended).toMatch(/event: cancelled/);
  });
});
