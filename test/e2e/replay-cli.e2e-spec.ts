import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { JobEvent } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { fold, toJobView } from '@app/job-state';
import { PROJECTION_VERSION } from '@app/read-model';
import { runCli } from '../support/cli.js';
import { jobCompleted, jobFailed, jobProgressed, jobStarted, videoSubmitted } from '../support/events.js';
import { freeTcpPort, spawnCli, spawnService, type ServiceProcess } from '../support/processes.js';
import { eventually, freshNamespace, freshSchema, TEST_DATABASE_URL, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';

/**
 * The `framewire` debugging commands as a user runs them: the built CLI as a process against a
 * running jobs service (also a process), on real NATS and PostgreSQL. Exit codes and output are the
 * contract.
 */
describe('framewire events, state and replay, as processes', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let store: EventStore;
  let jobs: ServiceProcess;
  let env: Record<string, string>;
  /** A job that ran twice and completed, with each event's stream sequence. */
  const done: Array<{ event: JobEvent; seq: number }> = [];
  let failedJob = '';
  let queuedJob = '';

  const checkpoint = async () => Number((await db.query(`SELECT last_seq FROM projection_checkpoints`).catch(() => []))[0]?.['last_seq'] ?? 0);
  const projected = async () => {
    const last = await store.lastSeq();
    await eventually(async () => ((await checkpoint()) >= last ? true : undefined), 20_000, `projection through ${last}`);
  };
  const append = async (event: JobEvent, expected: number) => (await store.append(event, expected)).seq;

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    store = new EventStore(ns.nc, ns.subjects);
    env = { NATS_URL: TEST_NATS_URL, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: db.schema, FRAMEWIRE_NAMESPACE: ns.namespace };
    jobs = spawnService('jobs', 'jobs', env);
    await jobs.waitForLine(/jobs service ready/);

    const submitted = videoSubmitted();
    done.push({ event: submitted, seq: await append(submitted, 0) });
    const other = videoSubmitted();
    await append(other, 0); // another job's event between this job's events
    const started = jobStarted(submitted, 1, 'w-1');
    done.push({ event: started, seq: await append(started, done.at(-1)!.seq) });
    const retry = jobFailed(started, 1, false, 'WORKER_ERROR');
    done.push({ event: retry, seq: await append(retry, done.at(-1)!.seq) });
    const restarted = jobStarted(retry, 2, 'w-2');
    done.push({ event: restarted, seq: await append(restarted, done.at(-1)!.seq) });
    // Stored times have millisecond resolution, and a time names every event stored in its
    // millisecond: keep event 4 alone in its own so that the as-of-time test can name it.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const progressed = jobProgressed(restarted, 50, 2);
    done.push({ event: progressed, seq: await append(progressed, done.at(-1)!.seq) });
    const completed = jobCompleted(progressed, 2, { width: 640 });
    done.push({ event: completed, seq: await append(completed, done.at(-1)!.seq) });

    const bad = videoSubmitted();
    const badSeq = await append(bad, 0);
    const badStarted = jobStarted(bad, 1, 'w-1');
    await append(jobFailed(badStarted, 1, true, 'INVALID_MEDIA'), await append(badStarted, badSeq));
    failedJob = bad.jobId;
    queuedJob = other.jobId;
    await projected();
  }, 60_000);

  afterAll(async () => {
    expect(await jobs?.stop()).toBe(0);
    await ns?.cleanup();
    await db?.drop();
  });

  const jobId = () => done[0]!.event.jobId;

  it('events: prints the timeline with numbers, seqs, attempts, workers, deltas and causes', async () => {
    const run = await runCli(['events', jobId()], env);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe(`job ${jobId()}: 6 events, completed`);
    expect(lines[1]).toMatch(/^#\s+SEQ\s+STORED AT \(UTC\)\s+\+DELTA\s+TYPE\s+ATTEMPT\s+WORKER\s+STATUS\s+CORRELATION\s+CAUSE\s+DETAILS$/);
    const rows = lines.slice(2).map((line) => line.split(/\s{2,}/));
    expect(rows.map((r) => [r[0], r[1], r[4], r[5], r[6], r[7]])).toEqual([
      ['1', String(done[0]!.seq), 'VideoSubmitted', '-', '-', 'queued'],
      ['2', String(done[1]!.seq), 'JobStarted', '1', 'w-1', 'running'],
      ['3', String(done[2]!.seq), 'JobFailed', '1', 'w-1', 'queued'],
      ['4', String(done[3]!.seq), 'JobStarted', '2', 'w-2', 'running'],
      ['5', String(done[4]!.seq), 'JobProgressed', '2', 'w-2', 'running'],
      ['6', String(done[5]!.seq), 'JobCompleted', '2', 'w-2', 'completed'],
    ]);
    expect(rows[0]![3]).toBe('-');
    expect(rows[1]![3]).toMatch(/^\+\d+(ms|\.\d\ds)$/);
    expect(rows[1]![8]).toBe(done[0]!.event.correlationId);
    expect(rows[1]![9]).toBe('#1');
    expect(rows[2]![10]).toContain('WORKER_ERROR (retry in 1.0 s)');
  });

  it('events --json: the same timeline for scripts', async () => {
    const run = await runCli(['events', jobId(), '--json'], env);
    expect(run.code).toBe(0);
    const body = JSON.parse(run.stdout) as { job_id: string; events: Array<Record<string, unknown>> };
    expect(body.job_id).toBe(jobId());
    expect(body.events.map((e) => e['seq'])).toEqual(done.map((d) => d.seq));
    expect(body.events[3]).toMatchObject({
      number: 4,
      type: 'JobStarted',
      attempt: 2,
      worker_id: 'w-2',
      event_id: done[3]!.event.eventId,
      correlation_id: done[3]!.event.correlationId,
      causation_id: done[2]!.event.eventId,
      caused_by: 3,
    });
    expect(typeof body.events[3]!['since_previous_ms']).toBe('number');
  });

  it('events: exit 3 for a job that does not exist, 2 for an id that is not one, 4 when NATS is unreachable', async () => {
    const port = await freeTcpPort();
    const [missing, json, notId, badOption, down] = await Promise.all([
      runCli(['events', videoSubmitted().jobId], env),
      runCli(['events', videoSubmitted().jobId, '--json'], env),
      runCli(['events', 'not-a-uuid'], env),
      runCli(['events', jobId(), '--no-such-option'], env),
      runCli(['events', jobId()], { ...env, NATS_URL: `nats://127.0.0.1:${port}` }),
    ]);
    expect(missing).toMatchObject({ code: 3, stdout: '' });
    expect(missing.stderr).toMatch(/^framewire: no job /);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'JOB_NOT_FOUND' } });
    expect(notId.code).toBe(2);
    expect(badOption.code).toBe(2);
    expect(down.code).toBe(4);
    expect(down.stderr).toMatch(/cannot reach NATS/);
  });

  it('--help on every command: usage, the as-of syntax and the exit codes, exit 0', async () => {
    const [top, events, state, replay] = await Promise.all([
      runCli(['--help'], env),
      runCli(['events', '--help'], env),
      runCli(['state', '--help'], env),
      runCli(['replay', '--help'], env),
    ]);
    for (const run of [top, events, state, replay]) expect(run.code).toBe(0);
    expect(top.stdout).toMatch(/Exit codes of events, state and replay:\n\s+0\s+done\n\s+1\s+a finding/);
    expect(events.stdout).toMatch(/Usage: framewire events \[options\] <jobId>[\s\S]*--follow[\s\S]*--json/);
    expect(state.stdout).toMatch(/--as-of <point>[\s\S]*seq:N[\s\S]*ISO/);
    expect(replay.stdout).toMatch(/--verify[\s\S]*--swap[\s\S]*--json/);
  });

  it('events --follow: prints what is appended while it runs and ends with the job', async () => {
    const submitted = videoSubmitted();
    const submittedSeq = await append(submitted, 0);
    const follow = spawnCli('events --follow', ['events', submitted.jobId, '--follow', '--json'], env);
    await follow.waitForLine(/"type":"VideoSubmitted"/);
    const started = jobStarted(submitted, 1, 'w-9');
    const startedSeq = await append(started, submittedSeq);
    await follow.waitForLine(/"type":"JobStarted"/);
    await append(jobCompleted(started), startedSeq);
    await follow.waitForLine(/"type":"JobCompleted"/);
    const code = await new Promise((resolve) => follow.child.once('exit', resolve).exitCode !== null && resolve(follow.child.exitCode));
    expect(code).toBe(0);
    const types = follow.output().trim().split('\n').map((line) => (JSON.parse(line) as { type: string; worker_id: string | null }));
    expect(types.map((t) => t.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted']);
    expect(types[2]!.worker_id).toBe('w-9');
  });

  it('state --as-of N: exactly the fold of the first N events', async () => {
    for (const n of [1, 3, 6]) {
      const run = await runCli(['state', jobId(), '--as-of', String(n), '--json'], env);
      expect(run.code).toBe(0);
      const body = JSON.parse(run.stdout) as Record<string, unknown>;
      const expected = toJobView(fold(done.slice(0, n).map((d) => d.event))!, done[n - 1]!.seq);
      expect(body).toEqual({ ...expected, as_of: { requested: String(n), event: n, seq: done[n - 1]!.seq, stored_at: expect.any(String), events_total: 6 } });
    }
    const first = await runCli(['state', jobId(), '--as-of', '1'], env);
    expect(first.stdout).toMatch(new RegExp(`^job ${jobId()} as of event 1 of 6 \\(seq ${done[0]!.seq}, stored `));
    expect(first.stdout).toMatch(/\n {2}status\s+queued\n/);
  });

  it('state --as-of seq:N and a time: the state after the last event at or before it', async () => {
    // Between the job's first and second events the stream holds another job's submission.
    const bySeq = await runCli(['state', jobId(), '--as-of', `seq:${done[1]!.seq - 1}`, '--json'], env);
    expect(JSON.parse(bySeq.stdout)).toMatchObject({ status: 'queued', attempts: 0, as_of: { requested: `seq:${done[1]!.seq - 1}`, event: 1, seq: done[0]!.seq } });
    const timeline = JSON.parse((await runCli(['events', jobId(), '--json'], env)).stdout) as { events: Array<{ stored_at: string }> };
    const byTime = await runCli(['state', jobId(), '--as-of', timeline.events[3]!.stored_at, '--json'], env);
    expect(JSON.parse(byTime.stdout)).toMatchObject({ status: 'running', worker_id: 'w-2', as_of: { event: 4 } });
    const latest = await runCli(['state', jobId(), '--json'], env);
    expect(JSON.parse(latest.stdout)).toMatchObject({ status: 'completed', result: { width: 640 }, as_of: { requested: 'latest', event: 6 } });
  });

  it('state: exit 3 before the job existed or past its last event, 2 for a point it cannot read', async () => {
    const [before, past, early, bad] = await Promise.all([
      runCli(['state', jobId(), '--as-of', `seq:${done[0]!.seq - 1}`], env),
      runCli(['state', jobId(), '--as-of', '7', '--json'], env),
      runCli(['state', jobId(), '--as-of', '1999-01-01T00:00:00Z'], env),
      runCli(['state', jobId(), '--as-of', 'last tuesday'], env),
    ]);
    expect(before.code).toBe(3);
    expect(before.stderr).toMatch(/did not exist yet at seq:/);
    expect(past.code).toBe(3);
    expect(JSON.parse(past.stderr)).toMatchObject({ error: { code: 'EVENT_NOT_FOUND' } });
    expect(early.code).toBe(3);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/seq:N/);
  });

  it('replay --verify: no drift on an honest model; exit 0 and the rebuild rate', async () => {
    await projected();
    const run = await runCli(['replay', '--verify'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^rebuilt \d+ events \(seq 1\.\.\d+, 4 jobs\) into \S+ in [\d.]+ s: \d+ events\/s$/m);
    expect(run.stdout).toMatch(/^verify: no drift: .* 4 rows, .* 4 rows\)$/m);
    // The shadow schema is gone afterwards.
    const schemas = await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE $1`, [`${db.schema}\\_v%`]);
    expect(schemas).toHaveLength(1);
  });

  it('replay --verify: a corrupted row is reported, exactly that row and column, with exit 1', async () => {
    await projected();
    await db.query(`UPDATE jobs SET status = 'completed', attempts = 7 WHERE job_id = $1`, [failedJob]);
    const run = await runCli(['replay', '--verify'], env);
    expect(run.code).toBe(1);
    const drift = run.stdout.split('\n').filter((line) => line.startsWith('  job '));
    expect(drift).toEqual([
      `  job ${failedJob} column status: live "completed", rebuilt "failed"`,
      `  job ${failedJob} column attempts: live 7, rebuilt 1`,
    ]);
    const json = await runCli(['replay', '--verify', '--json'], env);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as { verify: { drift: boolean; differences: unknown[] } };
    expect(report.verify.drift).toBe(true);
    expect(report.verify.differences).toEqual([
      {
        job_id: failedJob,
        kind: 'changed',
        columns: [
          { column: 'status', live: 'completed', rebuilt: 'failed' },
          { column: 'attempts', live: 7, rebuilt: 1 },
        ],
      },
    ]);
  });

  it('replay --verify: a stream that is not the one the model was projected from is reported before anything is compared, exit 1', async () => {
    await projected();
    // Another stream under the same name space of subjects as far as the model knows: what a NATS
    // that lost its data, or a lone server's truncated block file, leaves the model facing.
    const other = await freshNamespace();
    try {
      await new EventStore(other.nc, other.subjects).append(videoSubmitted(), 0);
      const run = await runCli(['replay', '--verify'], { ...env, FRAMEWIRE_NAMESPACE: other.namespace });
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/^verify: STREAM: the event stream is not the one the read model was projected from \(another stream\): the model \S+ holds .* through seq \d+; the stream now is .*, last seq 1; /m);
      expect(run.stdout).not.toMatch(/^rebuilt /m);
      const json = await runCli(['replay', '--verify', '--json'], { ...env, FRAMEWIRE_NAMESPACE: other.namespace });
      expect(json.code).toBe(1);
      expect((JSON.parse(json.stdout) as { verify: { stream_mismatch: unknown } }).verify.stream_mismatch).toMatchObject({ reason: 'identity', last_seq: 1 });
    } finally {
      await other.cleanup();
    }
  });

  it('replay --swap: switches to the rebuilt model while the jobs service runs, which then projects into it', async () => {
    await db.query(`DELETE FROM jobs WHERE job_id = $1`, [queuedJob]);
    const [{ active_schema: before }] = await db.query(`SELECT active_schema FROM projection_registry`);
    const run = await runCli(['replay', '--verify', '--swap'], env);
    expect(run.code).toBe(1); // the drift is reported, and repaired by the swap
    expect(run.stdout).toMatch(/missing from the live model/);
    expect(run.stdout).toMatch(new RegExp(`^swapped: the read model is now \\S+ \\(projection version ${PROJECTION_VERSION}\\)`, 'm'));
    const [{ active_schema: after, previous_schema: previous }] = await db.query(`SELECT active_schema, previous_schema FROM projection_registry`);
    expect(after).not.toBe(before);
    expect(previous).toBe(before);
    expect(await db.query(`SELECT status, attempts FROM jobs WHERE job_id = ANY($1) ORDER BY status`, [[failedJob, queuedJob]])).toEqual([
      { status: 'failed', attempts: 1 },
      { status: 'queued', attempts: 0 },
    ]);
    // The live projector writes the new model from its next batch on.
    const late = videoSubmitted();
    await append(late, 0);
    await projected();
    expect(await db.query(`SELECT status FROM "${after}".jobs WHERE job_id = $1`, [late.jobId])).toEqual([{ status: 'queued' }]);
    expect((await runCli(['replay', '--verify'], env)).code).toBe(0);
  });

  it('replay: exit 4 when the database it falls back to is not there, 3 without a read model', async () => {
    const { DATABASE_URL: _url, ...noDatabase } = env;
    // Without DATABASE_URL it uses the database of a running `framewire start` (none in runCli's empty
    // data directory), else the local default, as psql would connect: here a database nobody made.
    const absent = `fw_absent_${db.schema}`;
    const missing = await runCli(['replay'], { ...noDatabase, PGDATABASE: absent, DATABASE_SCHEMA: `${db.schema}_none` });
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(new RegExp(`cannot reach PostgreSQL at postgres://[^ ]*/${absent}: database "${absent}" does not exist`));
    const empty = await runCli(['replay'], { ...env, DATABASE_SCHEMA: `${db.schema}_none` });
    expect(empty.code).toBe(3);
    expect(empty.stderr).toMatch(/no read model in schema/);
  });

  // Last: it leaves a parked event in the live model, which every later verify would report.
  it('replay --verify: reports an event the read model parked, with its job, exit 1; the jobs service logged it as an error', async () => {
    const poison: JobEvent = { ...videoSubmitted(), occurredAt: '0000-01-01T00:00:00Z' }; // valid, but no timestamptz has year 0
    const poisonSeq = await append(poison, 0);
    const after = videoSubmitted();
    await append(after, 0);
    await projected();

    const logged = await jobs.waitForLine(/parked VideoSubmitted/, 10_000);
    expect(JSON.parse(logged)).toMatchObject({ level: 'error', seq: poisonSeq, jobId: poison.jobId, type: 'VideoSubmitted', code: '22008' });

    const run = await runCli(['replay', '--verify'], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^rebuild: parked 1 event whose rows could not be written$/m);
    expect(run.stdout).toMatch(/^verify: no drift: /m);
    const parked = run.stdout.split('\n').filter((line) => line.startsWith('  seq '));
    // Parked by the live projector and again by the rebuild: the same event, the same job.
    expect(parked).toEqual([
      expect.stringMatching(new RegExp(`^  seq ${poisonSeq} job ${poison.jobId} VideoSubmitted v2: 22008 date/time field value out of range`)),
      expect.stringMatching(new RegExp(`^  seq ${poisonSeq} job ${poison.jobId} VideoSubmitted v2: 22008 `)),
    ]);
    expect(run.stdout).toMatch(/^verify: PARKED: 1 event in the live model could not be written; the job is not what its events say:$/m);

    const json = await runCli(['replay', '--verify', '--json'], env);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as { rebuild: { parked: number }; verify: { drift: boolean; parked: { live: unknown[]; rebuilt: unknown[] } } };
    expect(report.rebuild.parked).toBe(1);
    expect(report.verify.drift).toBe(false);
    expect(report.verify.parked.live).toEqual([
      { seq: poisonSeq, job_id: poison.jobId, event_id: poison.eventId, event_type: 'VideoSubmitted', event_version: 2, error_code: '22008', error_message: expect.any(String), parked_at: expect.any(String) },
    ]);
    expect(report.verify.parked.rebuilt).toHaveLength(1);
  });
});
