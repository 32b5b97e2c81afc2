/**
 * `node --import ./bench/lib/register.mjs bench/micro/expected-sequence.ts [--jobs 20000 --events 5 --count 400 --rounds 4 --storage file,memory]`
 *
 * What the job-wide expected sequence costs an append (docs/adr/0002-job-concurrency-check.md):
 * a lifecycle append expecting the last sequence of its own subject (`Nats-Expected-Last-Subject-Sequence`
 * alone, the scheme nats-server 2.9 forced) against one expecting the last sequence over the job's whole
 * subject tree (`Nats-Expected-Last-Subject-Sequence-Subject: <ns>.job.<id>.>`, which the server finds
 * over a wildcard). On a stream configured like the event log, filled first with `--jobs` jobs of
 * `--events` messages each, on a file stream (what the server at BENCH_NATS_URL syncs) and on a memory
 * stream (no disk: the lookup's own cost). The two modes alternate in rounds, on the same jobs, old
 * (stored first) and recent; and the history reads before and after (three direct gets against a
 * batch get of the last message per subject, with the first submission). Rough on a shared machine.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { jetstreamManager, PubHeaders, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { connect, headers, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { jobSubjects, type JobSubjects } from '@app/contracts';
import { eventStreamConfig } from '@app/event-store';
import { distribution, round } from '../lib/stats.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '20000' },
    events: { type: 'string', default: '5' },
    count: { type: 'string', default: '400' },
    rounds: { type: 'string', default: '4' },
    window: { type: 'string', default: '64' },
    storage: { type: 'string', default: 'file,memory' },
  },
});
const JOBS = Number(values.jobs);
const EVENTS = Number(values.events);
const COUNT = Number(values.count);
const ROUNDS = Number(values.rounds);
const WINDOW = Number(values.window);
const url = process.env['BENCH_NATS_URL'] ?? 'nats://127.0.0.1:4333';
/** About as large as a real event. */
const payload = new TextEncoder().encode(JSON.stringify({ type: 'JobProgressed', pad: 'x'.repeat(420) }));

type Mode = 'subject' | 'tree';

function appendHeaders(subjects: JobSubjects, jobId: string, mode: Mode, expected: number): MsgHdrs {
  const h = headers();
  h.set(PubHeaders.MsgIdHdr, randomUUID());
  h.set(PubHeaders.ExpectedStreamHdr, subjects.streamName);
  h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, String(expected));
  if (mode === 'tree') h.set(PubHeaders.ExpectedLastSubjectSequenceSubjectHdr, subjects.ofJob(jobId));
  return h;
}

interface Ack {
  seq?: number;
  error?: { description: string };
}

async function publish(nc: NatsConnection, subject: string, h?: MsgHdrs): Promise<number> {
  const reply = await nc.request(subject, payload, { timeout: 10_000, ...(h ? { headers: h } : {}) });
  const ack = reply.json<Ack>();
  if (ack.error || typeof ack.seq !== 'number') throw new Error(`${subject}: ${ack.error?.description ?? 'no ack'}`);
  return ack.seq;
}

/** A stream like the event log, holding JOBS jobs of EVENTS messages; the last sequence of each job (on its lifecycle). */
async function fill(nc: NatsConnection, jsm: JetStreamManager, storage: StorageType): Promise<{ subjects: JobSubjects; jobs: string[]; last: Map<string, number> }> {
  const subjects = jobSubjects(`bx${randomUUID().slice(0, 8)}`);
  await jsm.streams.add({ ...eventStreamConfig(subjects), storage });
  const jobs = Array.from({ length: JOBS }, () => randomUUID());
  const last = new Map<string, number>();
  const started = performance.now();
  for (let i = 0; i < jobs.length; i += WINDOW * 4) {
    const slice = jobs.slice(i, i + WINDOW * 4);
    for (let e = 0; e < EVENTS; e++) {
      await Promise.all(
        slice.map(async (jobId) => {
          const subject = e === 0 ? subjects.submitted(jobId, 'normal') : subjects.lifecycle(jobId);
          last.set(jobId, await publish(nc, subject));
        }),
      );
    }
  }
  process.stderr.write(`filled ${storage} stream: ${JOBS * EVENTS} messages over ${JOBS} jobs in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return { subjects, jobs, last };
}

/** COUNT lifecycle appends one at a time, each to another job of `pool`; their latencies in ms. */
async function sequential(nc: NatsConnection, s: { subjects: JobSubjects; last: Map<string, number> }, pool: string[], mode: Mode): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < COUNT; i++) {
    const jobId = pool[i % pool.length]!;
    const h = appendHeaders(s.subjects, jobId, mode, s.last.get(jobId)!);
    const t = performance.now();
    s.last.set(jobId, await publish(nc, s.subjects.lifecycle(jobId), h));
    samples.push(performance.now() - t);
  }
  return samples;
}

/** COUNT lifecycle appends with WINDOW in flight, each to another job; appends per second. */
async function windowed(nc: NatsConnection, s: { subjects: JobSubjects; last: Map<string, number> }, pool: string[], mode: Mode): Promise<number> {
  let next = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      for (let i = next++; i < COUNT * 4; i = next++) {
        const jobId = pool[i % pool.length]!;
        const h = appendHeaders(s.subjects, jobId, mode, s.last.get(jobId)!);
        s.last.set(jobId, await publish(nc, s.subjects.lifecycle(jobId), h));
      }
    }),
  );
  return (COUNT * 4 * 1000) / (performance.now() - t);
}

/** The history reads of one job, COUNT times: before (three direct gets) and after (a multi-last batch get and the first submission). */
async function reads(jsm: JetStreamManager, s: { subjects: JobSubjects }, pool: string[], how: 'before' | 'after'): Promise<number[]> {
  const stream = s.subjects.streamName;
  const samples: number[] = [];
  for (let i = 0; i < COUNT; i++) {
    const jobId = pool[i % pool.length]!;
    const first = () => jsm.direct.getMessage(stream, { seq: 1, next_by_subj: s.subjects.submittedOfJob(jobId) });
    const t = performance.now();
    if (how === 'before') {
      await Promise.all([first(), jsm.direct.getMessage(stream, { last_by_subj: s.subjects.lifecycle(jobId) }), jsm.direct.getMessage(stream, { last_by_subj: s.subjects.submitted(jobId, 'normal') })]);
    } else {
      const lasts = async () => {
        const seqs: number[] = [];
        for await (const m of await jsm.direct.getLastMessagesFor(stream, { multi_last: [s.subjects.ofJob(jobId)] })) seqs.push(m.seq);
        return seqs;
      };
      await Promise.all([first(), lasts()]);
    }
    samples.push(performance.now() - t);
  }
  return samples;
}

const fmt = (samples: number[]) => {
  const d = distribution(samples);
  return `p50 ${round(d.p50, 3)} ms, p99 ${round(d.p99, 3)} ms, mean ${round(d.mean, 3)} ms`;
};

const nc = await connect({ servers: url });
const jsm = await jetstreamManager(nc);
process.stderr.write(`nats-server ${nc.info?.version} at ${url}\n`);
const results: Record<string, number[] | number> = {};
const add = (key: string, value: number[] | number) => {
  const was = results[key];
  if (Array.isArray(value)) results[key] = [...((was as number[] | undefined) ?? []), ...value];
  else results[key] = [...((was as number[] | undefined) ?? []), value];
};
const made: string[] = [];
try {
  for (const storage of values.storage.split(',') as StorageType[]) {
    const s = await fill(nc, jsm, storage);
    made.push(s.subjects.streamName);
    const old = s.jobs.slice(0, 2000);
    const recent = s.jobs.slice(-2000);
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which mode goes first, so that drift on a shared machine falls on both.
      const modes: Mode[] = r % 2 === 0 ? ['subject', 'tree'] : ['tree', 'subject'];
      for (const mode of modes) {
        add(`${storage} ${mode} old jobs`, await sequential(nc, s, old, mode));
        add(`${storage} ${mode} recent jobs`, await sequential(nc, s, recent, mode));
        add(`${storage} ${mode} windowed/s`, await windowed(nc, s, s.jobs, mode));
      }
      for (const how of r % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const)) add(`${storage} read ${how}`, await reads(jsm, s, s.jobs, how));
    }
  }
} finally {
  for (const name of made) await jsm.streams.delete(name).catch(() => undefined);
  await nc.close();
}
for (const [key, value] of Object.entries(results)) {
  const list = value as number[];
  const line = key.endsWith('/s') ? `${list.map((v) => Math.round(v)).join(', ')} appends/s (mean ${Math.round(list.reduce((a, b) => a + b, 0) / list.length)})` : fmt(list);
  process.stdout.write(`${key.padEnd(28)} ${line}\n`);
}
