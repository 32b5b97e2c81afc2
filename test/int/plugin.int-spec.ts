import { jetstreamManager } from '@nats-io/jetstream';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { z } from 'zod';
import { findUncleanText, type JobEvent } from '@app/contracts';
import { parseConfig, workerEnvSchema } from '@app/config';
import { EventStore } from '@app/event-store';
import { BlobStore } from '@app/blob-store';
import { createLogger } from '@app/observability';
import { builtinPlugin, buildCatalog, CatalogError, describePipeline, ToolCatalog, ToolError, type Tool } from '@app/tools';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { videoSubmitted } from '../support/events.js';
import { eventually, freshNamespace, TEST_NATS_URL, type TestNamespace, IN_PROCESS_OPS } from '../support/services.js';
import { ffmpeg, mediaDir } from '../support/videos.js';

const PLUGIN = '@framewire/plugin-silence';

/** The in-repo plugin package, loaded by name from FRAMEWIRE_PLUGINS like any third-party one. */
describe('a tool plugin loaded by name', () => {
  let ns: TestNamespace;
  let worker: TestingModule;
  let media: Awaited<ReturnType<typeof mediaDir>>;

  beforeAll(async () => {
    ns = await freshNamespace();
    media = await mediaDir();
    const config = parseConfig(workerEnvSchema, { ...IN_PROCESS_OPS, FRAMEWIRE_NAMESPACE: ns.namespace, NATS_URL: TEST_NATS_URL, WORKER_ID: 'plugin-worker', FRAMEWIRE_PLUGINS: ` ${PLUGIN} ` });
    worker = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config, createLogger('worker', 'silent'))] }).compile();
    await worker.init();
  });

  afterAll(async () => {
    await worker?.close();
    await ns?.cleanup();
    await media?.cleanup();
  });

  it('adds its pipeline and strict params to the catalog, and stops the service on a plugin that cannot load', async () => {
    const catalog = await buildCatalog([PLUGIN]);
    const entry = catalog.pipeline('silence')!;
    expect(entry.source).toBe(PLUGIN);
    expect(describePipeline(entry).params_schema).toMatchObject({ additionalProperties: false, properties: { noise_db: { default: -35 } } });
    expect(entry.params.safeParse({ noise_db: 5 }).success).toBe(false);
    await expect(buildCatalog(['@framewire/no-such-plugin'])).rejects.toBeInstanceOf(CatalogError);
    await expect(buildCatalog([PLUGIN, PLUGIN])).rejects.toThrow(/already loaded/);
  });

  it('runs in the worker: finds the silences the video was made with', async () => {
    // 1 s tone, 2 s silence, 1 s tone.
    const path = join(media.dir, 'talk.mp4');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10:duration=4', '-f', 'lavfi', '-i', "aevalsrc='if(between(t,1,3),0,0.5*sin(2*PI*440*t))':s=44100:d=4",
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', path]);
    const store = new EventStore(ns.nc, ns.subjects);
    const blobs = await BlobStore.open(ns.nc, ns.subjects.videoBucket);
    const submitted = videoSubmitted(undefined, { pipeline: 'silence', params: { noise_db: -40, min_silence_sec: 0.5 } });
    const blob = await blobs.putBytes(`uploads/${submitted.jobId}/1`, await readFile(path), 'video/mp4');
    submitted.data.video = { ...submitted.data.video, objectName: blob.name, size: blob.size, sha256: blob.sha256, bucket: blob.bucket };
    await store.append(submitted, 0);
    const completed = await eventually(async () => {
      const last = await store.lastLifecycle(submitted.jobId);
      const event: JobEvent | null = last?.ok ? last.stored.event : null;
      return event && (event.type === 'JobCompleted' || event.type === 'JobFailed') ? event : undefined;
    }, 30_000, 'the silence job');
    expect(completed.type).toBe('JobCompleted');
    const result = completed.type === 'JobCompleted' ? (completed.data.result as { tools: { silence: { data: { silences: Array<{ start: number; end: number }> } } } }) : null;
    const silences = result!.tools.silence.data.silences;
    expect(silences).toHaveLength(1);
    expect(silences[0]!.start).toBeCloseTo(1, 1);
    expect(silences[0]!.end).toBeCloseTo(3, 1);
  });
});

/**
 * Whatever text a plugin returns or throws, the events the worker appends are clean (no lone
 * surrogate, no NUL): such text, once in the log, was refused by PostgreSQL and stopped the read model.
 */
describe("a plugin's text in the events", () => {
  let ns: TestNamespace;
  let worker: TestingModule;
  // Once cleaned, the prefix is 13 characters: the emoji then starts at 3999, across the 4000-character cut.
  const message = `bad \ud83d input\u0000: ${'a'.repeat(3986)}😀 and more`;
  const hostile: Tool[] = [
    {
      name: 'hostile-result',
      version: '1.0.0',
      description: 'returns text that is not clean',
      params: z.strictObject({}),
      readsInput: false,
      usesWorkDir: false,
      run: async () => ({ summary: { ['k\ud800']: 'v\u0000w', label: 'x\ude00y', fine: 'é😀' }, data: { names: [`${'n'.repeat(10)}\ud83d`] } }),
    },
    {
      name: 'hostile-error',
      version: '1.0.0',
      description: 'fails with a message that is not clean',
      params: z.strictObject({}),
      readsInput: false,
      usesWorkDir: false,
      run: async () => {
        throw new ToolError('HOSTILE\u0000', message, true);
      },
    },
  ];
  const catalog = new ToolCatalog([
    { source: 'builtin', tools: builtinPlugin.tools, pipelines: builtinPlugin.pipelines },
    { source: 'hostile', tools: hostile, pipelines: hostile.map((tool) => ({ name: tool.name, description: tool.description, tools: [tool.name] })) },
  ]);

  beforeAll(async () => {
    ns = await freshNamespace();
    const config = parseConfig(workerEnvSchema, { ...IN_PROCESS_OPS, FRAMEWIRE_NAMESPACE: ns.namespace, NATS_URL: TEST_NATS_URL, WORKER_ID: 'hostile-text-worker' });
    worker = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config, createLogger('worker', 'silent'))] })
      .overrideProvider(ToolCatalog)
      .useValue(catalog)
      .compile();
    await worker.init();
  });

  afterAll(async () => {
    await worker?.close();
    await ns?.cleanup();
  });

  /** Runs `pipeline` and returns the job's events as stored, parsed without the reader's cleaning. */
  async function run(pipeline: string) {
    const store = new EventStore(ns.nc, ns.subjects);
    const submitted = videoSubmitted(undefined, { pipeline });
    await store.append(submitted, 0);
    const ended = await eventually(async () => {
      const last = await store.lastLifecycle(submitted.jobId);
      return last?.ok && ['JobCompleted', 'JobFailed'].includes(last.stored.event.type) ? last.stored.seq : undefined;
    }, 30_000, `the ${pipeline} job`);
    const jsm = await jetstreamManager(ns.nc);
    const stored = await jsm.direct.getMessage(ns.subjects.streamName, { seq: ended });
    return JSON.parse(new TextDecoder().decode(stored!.data)) as JobEvent;
  }

  it('cleans a result with lone surrogates and NUL in its values and keys', async () => {
    const completed = await run('hostile-result');
    expect(findUncleanText(completed)).toBeNull();
    expect(completed).toMatchObject({ type: 'JobCompleted' });
    const result = completed.type === 'JobCompleted' ? (completed.data.result as { tools: Record<string, { summary: unknown; data: unknown }> }) : null;
    expect(result?.tools['hostile-result']).toEqual({
      version: '1.0.0',
      duration_ms: expect.any(Number),
      summary: { 'k\ufffd': 'vw', label: 'x\ufffdy', fine: 'é😀' },
      data: { names: [`${'n'.repeat(10)}\ufffd`] },
    });
  });

  it('cleans an error code and message, cutting the message at a code point boundary', async () => {
    const failed = await run('hostile-error');
    expect(findUncleanText(failed)).toBeNull();
    expect(failed).toMatchObject({ type: 'JobFailed', data: { final: true, error: { code: 'HOSTILE' } } });
    const stored = failed.type === 'JobFailed' ? failed.data.error.message : '';
    expect(stored).toBe(`bad \ufffd input: ${'a'.repeat(3986)}`);
  });
});
