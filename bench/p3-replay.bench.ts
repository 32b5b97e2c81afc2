import { randomBytes, randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { DataSource } from 'typeorm';
import { encodeEvent, jobSubjects, newEvent, type JobEvent } from '@app/contracts';
import { ensureEventStream, EventStore } from '@app/event-store';
import { connectNats } from '@app/nats';
import { fold, type JobState } from '@app/job-state';
import { createReadModelDataSource, migrateModelSchema, UPSERT_CHUNK, upsertRows } from '@app/read-model';
import { DEFAULT_REBUILD_BATCH, rebuildIntoSchema, type RebuildStats } from '@app/replay';
import type { BenchContext, BenchResult, Benchmark } from './lib/types.js';

/**
 * P3, replay speed: events/s of a full rebuild of the read model from the stream (`rebuildIntoSchema`,
 * what `framewire replay` and a projection-version upgrade run) against the raw batched PostgreSQL
 * upsert rate of the same final rows, in the same run, with the same batch size and the same SQL.
 * Goal: the rebuild folds events at least 80% as fast as PostgreSQL takes rows.
 */
const benchmark: Benchmark = {
  id: 'p3-replay',
  title: 'Replay: full read-model rebuild vs raw batched PostgreSQL upserts',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const jobs = ctx.quick ? 2_000 : 20_000;
    const batch = DEFAULT_REBUILD_BATCH;
    const chunk = UPSERT_CHUNK;
    const namespace = `bench${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
    const subjects = jobSubjects(namespace);
    const nc = await connectNats(ctx.natsUrl, 'framewire-bench-replay');
    const ds = await createReadModelDataSource({ url: ctx.databaseUrl, schema: 'public', poolSize: 4 }).initialize();
    const rounds = ctx.quick ? 2 : 3;
    const schemas: string[] = [];
    try {
      await ensureEventStream(nc, subjects);
      const history = makeHistory(jobs);
      ctx.log(`appending ${history.length} events of ${jobs} jobs to ${subjects.streamName}`);
      await publishAll(nc, subjects.streamName, history, (event) => subjectOf(subjects, event));

      // Interleaved rounds (raw, rebuild, raw, rebuild, ...), each into fresh schemas, and the median
      // of each side: the machine is shared, so a single pair would mostly measure the neighbours.
      const finals = finalRows(history);
      const store = new EventStore(nc, subjects);
      const raw: number[] = [];
      const rebuilt: RebuildStats[] = [];
      for (let round = 0; round < rounds; round++) {
        const rawSchema = `${namespace}_raw${round}`;
        const rebuiltSchema = `${namespace}_rebuilt${round}`;
        schemas.push(rawSchema, rebuiltSchema);
        await migrateModelSchema(ctx.databaseUrl, rawSchema);
        await migrateModelSchema(ctx.databaseUrl, rebuiltSchema);

        // Baseline: the final rows, upserted in batches as raw as it gets (the writer's own statement).
        const rawStarted = performance.now();
        for (let i = 0; i < finals.length; i += chunk) {
          const rows = finals.slice(i, i + chunk);
          await ds.transaction((tx) => upsertRows(tx, rawSchema, rows));
        }
        raw.push(finals.length / ((performance.now() - rawStarted) / 1000));

        // The rebuild: ordered consumer from seq 1, validate and upcast, fold, batched upserts with the checkpoint.
        const stats = await rebuildIntoSchema({ store, ds, schema: rebuiltSchema, batchSize: batch });
        rebuilt.push(stats);
        const [check] = (await ds.query(`SELECT count(*)::int AS n FROM "${rebuiltSchema}".jobs`)) as [{ n: number }];
        if (check.n !== jobs) throw new Error(`the rebuild made ${check.n} rows, expected ${jobs}`);
        ctx.log(`round ${round + 1}: rebuild ${Math.round(stats.eventsPerSecond)} events/s, raw upserts ${Math.round(raw.at(-1)!)} rows/s`);
        await ds.query(`DROP SCHEMA "${rawSchema}" CASCADE; DROP SCHEMA "${rebuiltSchema}" CASCADE`);
      }
      const rawRate = median(raw);
      const rebuildRate = median(rebuilt.map((s) => s.eventsPerSecond));
      const ratio = rebuildRate / rawRate;
      const stats = rebuilt[0]!;
      ctx.log(`median: rebuild ${Math.round(rebuildRate)} events/s; raw upserts ${Math.round(rawRate)} rows/s; ratio ${ratio.toFixed(2)}`);

      return {
        id: benchmark.id,
        title: benchmark.title,
        measurements: [
          {
            name: 'full rebuild',
            unit: 'events/s',
            value: Math.round(rebuildRate),
            baseline: { name: 'raw batched upsert of the final rows', value: Math.round(rawRate) },
            goal: '≥ 80% of the raw upsert rate',
            met: ratio >= 0.8,
            extra: {
              ratio: Number(ratio.toFixed(3)),
              events: stats.messages,
              jobs,
              rebuild_row_upserts: stats.rows,
              raw_rows: finals.length,
              rebuild_events_per_transaction: batch,
              rows_per_statement: chunk,
              rounds,
              rebuild_events_per_second: rebuilt.map((s) => Math.round(s.eventsPerSecond)),
              raw_rows_per_second: raw.map(Math.round),
            },
          },
        ],
        notes: [
          `${jobs} jobs, ${history.length} events (submitted, started, two progress reports, completed), 200 jobs in flight at a time, so a job's events spread over the stream.`,
          `Median of ${rounds} interleaved rounds of each side (each into fresh schemas); every round is in "extra".`,
          `Both sides use the same jsonb_to_recordset upsert of at most ${chunk} rows per statement into a fresh schema; the baseline commits every statement, the rebuild commits every ${batch} events with its checkpoint, after reading them with an ordered consumer, validating, upcasting and folding them with evolve.`,
        ],
      };
    } finally {
      for (const schema of schemas) await ds.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await ds.destroy();
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(subjects.streamName).catch(() => undefined);
      await nc.close();
    }
  },
};

export default benchmark;

/** Jobs that run like real ones: 200 in flight, each submitted, started, 25% and 75% done, completed. */
function makeHistory(jobs: number): JobEvent[] {
  const events: JobEvent[] = [];
  const inFlight: Array<{ steps: JobEvent[] }> = [];
  let next = 0;
  let clock = Date.parse('2026-11-01T00:00:00.000Z');
  const at = () => new Date((clock += 7)).toISOString();
  while (next < jobs || inFlight.length > 0) {
    while (inFlight.length < 200 && next < jobs) {
      inFlight.push({ steps: lifecycle(next++, at) });
    }
    const pick = (next * 7919 + events.length * 104729) % inFlight.length;
    const job = inFlight[pick]!;
    events.push(job.steps.shift()!);
    if (job.steps.length === 0) inFlight.splice(pick, 1);
  }
  return events;
}

function lifecycle(i: number, at: () => string): JobEvent[] {
  const jobId = randomUUID();
  const meta = (cause: JobEvent | null) => ({ eventId: randomUUID(), jobId, occurredAt: at(), correlationId: `bench-${i}`, causationId: cause?.eventId ?? null });
  const submitted = newEvent(
    'VideoSubmitted',
    {
      pipeline: 'probe',
      params: { n: i },
      tenant: 'default',
      priority: 'normal',
      video: { bucket: 'bench_videos', objectName: `uploads/${jobId}/1`, filename: `clip-${i}.mp4`, size: 1_000_000 + i, contentType: 'video/mp4', sha256: 'c'.repeat(64) },
    },
    meta(null),
  );
  const started = newEvent('JobStarted', { workerId: `bench-worker-${i % 8}`, attempt: 1 }, meta(submitted));
  const progress = (cause: JobEvent, percent: number) =>
    newEvent('JobProgressed', { attempt: 1, percent, currentFrame: percent * 10, totalFrames: 1000, currentTool: 'probe', toolsCompleted: 0, toolsTotal: 1 }, meta(cause));
  const p1 = progress(started, 25);
  const p2 = progress(p1, 75);
  const completed = newEvent(
    'JobCompleted',
    { attempt: 1, durationMs: 1234, result: { width: 1280, height: 720, duration: 12.5, codec: 'h264' }, resultRef: null, artifacts: [] },
    meta(p2),
  );
  return [submitted, started, p1, p2, completed];
}

function subjectOf(subjects: ReturnType<typeof jobSubjects>, event: JobEvent): string {
  return event.type === 'VideoSubmitted' ? subjects.submitted(event.jobId, event.data.priority) : subjects.lifecycle(event.jobId);
}

/** Publishes with a window of outstanding acks (the fast way to load a stream; order is kept per publish call). */
async function publishAll(nc: Awaited<ReturnType<typeof connectNats>>, stream: string, events: JobEvent[], subject: (e: JobEvent) => string) {
  const js = jetstream(nc);
  const window = 256;
  for (let i = 0; i < events.length; i += window) {
    await Promise.all(events.slice(i, i + window).map((event) => js.publish(subject(event), encodeEvent(event), { msgID: event.eventId, expect: { streamName: stream } })));
  }
}

function finalRows(events: JobEvent[]): Array<{ state: JobState; lastSeq: number }> {
  const byJob = new Map<string, JobEvent[]>();
  events.forEach((event) => (byJob.get(event.jobId) ?? byJob.set(event.jobId, []).get(event.jobId)!).push(event));
  let seq = 0;
  return [...byJob.values()].map((jobEvents) => ({ state: fold(jobEvents)!, lastSeq: ++seq }));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
