import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { isTerminal, jobSubjects, webhookEventTypeOf, type JobEvent, type WebhookWithSecret } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { connectNats, type NatsConnection } from '@app/nats';
import { WORK_CONSUMER } from '../../apps/worker/src/work/work.consumer.js';
import { spawnService, type AppName, type ServiceProcess } from '../support/processes.js';
import { freeTcpPort } from '../support/processes.js';
import { testKeys } from '../support/keys.js';
import { describeDifferences, differingRows, readModel, replayInto } from '../support/read-model.js';
import { scratchDir, startNatsServer, startPostgres, type NatsServer, type PostgresServer } from '../support/servers.js';
import { ffmpeg, makeVideo } from '../support/videos.js';
import { WebhookSink, type SunkWebhook } from '../support/webhook-sink.js';

/**
 * The chaos run: the whole system as processes on its own nats-server and PostgreSQL, N jobs
 * submitted over HTTP (probes, and now and then a split transcode whose parts any worker makes),
 * and while they run: a random worker SIGKILLed every 2 s, NATS killed and restarted once,
 * PostgreSQL crashed and restarted once, the jobs service (the projector) SIGKILLed once. Every
 * service that exits is restarted, as `framewire start` or compose would. A webhook endpoint (a
 * receiver in this process that refuses a few deliveries with 503) hears how each job ended. Then
 * the stream is checked job by job (checkJob, and checkSplit for a split job's parts), the read model
 * against a fresh replay, and the receiver for each job's end (at least once).
 */
export interface ChaosOptions {
  jobs: number;
  workers?: number;
  /** Milliseconds between two worker kills. */
  killEveryMs?: number;
  /** Uploads in flight at once. */
  uploadConcurrency?: number;
  /** The share of webhook deliveries the receiver answers 503 (each is retried). */
  webhookFailRate?: number;
  /**
   * Every this many jobs, a split transcode (issue #19) instead of a probe: a few seconds of video cut
   * into parts that any worker makes, then joined. 0 for none; 20 unless given.
   */
  splitEvery?: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  jobs: number;
  accepted: number;
  completed: number;
  failed: Record<string, number>;
  /** The first few failed jobs' ends: job, attempt, code and message, to tell why without the stream. */
  failures: string[];
  deadLetters: number;
  kills: { workers: number; nats: number; postgres: number; projector: number };
  /** Services that exited without being killed by the run (each was restarted). */
  unexpectedExits: string[];
  /** Submissions answered 503 or cut off, then retried with the same Idempotency-Key. */
  submitRetries: number;
  /** Deliveries of work messages beyond the first, as the server counts them. */
  redeliveries: number;
  /** Attempts (JobStarted) beyond the first of each job. */
  extraAttempts: number;
  duplicates: number;
  lost: number;
  /** The split jobs: how many, how they ended, their parts and the part attempts beyond each part's first. */
  split: { jobs: number; completed: number; parts: number; extraPartAttempts: number };
  readModelRows: number;
  readModelDiffering: number;
  webhooks: WebhookTally;
  cleanStops: string;
  submitSeconds: number;
  wallSeconds: number;
  violations: string[];
}

/** What the webhook receiver heard of the jobs' ends. */
export interface WebhookTally {
  /** Jobs whose end some endpoint is owed (job.completed, job.failed or job.cancelled). */
  expected: number;
  /** Of those, the ends the receiver had (at least once) when the run stopped. */
  delivered: number;
  /** The first few jobs whose end never came, as `job type`. */
  missing: string[];
  /** Deliveries beyond the first of an end (allowed: at least once): the same webhook-id again, or another. */
  duplicates: { sameId: number; otherId: number };
  /** Deliveries answered 503 on purpose (each must come again). */
  refused: number;
  /** Deliveries whose signature did not match the endpoint's secret. */
  unsigned: number;
  /** How long the run waited, after the read model, for the last ends to arrive. */
  waitSeconds: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Services run and, when they exit, started again after a short pause, like a supervisor does. */
class Fleet {
  private readonly running = new Map<string, ServiceProcess>();
  private readonly killed = new Set<ServiceProcess>();
  private stopping = false;
  readonly unexpectedExits: string[] = [];

  constructor(private readonly env: Record<string, string>) {}

  start(name: string, app: AppName, extra: Record<string, string> = {}): void {
    const service = spawnService(name, app, { ...this.env, ...extra });
    this.running.set(name, service);
    service.child.once('exit', (code, signal) => {
      if (this.stopping) return;
      if (!this.killed.delete(service)) {
        const lastWords = service.output().split('\n').filter((line) => line.trim()).slice(-12).join('\n      ');
        this.unexpectedExits.push(`${name} (${signal ?? `code ${code}`}):\n      ${lastWords}`);
      }
      setTimeout(() => !this.stopping && this.start(name, app, extra), 200);
    });
  }

  names(prefix: string): string[] {
    return [...this.running.keys()].filter((name) => name.startsWith(prefix));
  }

  /** SIGKILLs the service if it is running now; true if it was. */
  kill(name: string): boolean {
    const service = this.running.get(name);
    if (!service || service.child.exitCode !== null || service.child.signalCode !== null) return false;
    this.killed.add(service);
    void service.stop('SIGKILL');
    return true;
  }

  /** SIGTERMs every service and reports each exit code. */
  async stopAll(): Promise<Record<string, number | string>> {
    this.stopping = true;
    const entries = await Promise.all([...this.running.entries()].map(async ([name, s]) => [name, await s.stop('SIGTERM')] as const));
    return Object.fromEntries(entries);
  }
}

/** Every event of the stream, per job, read in order as the run goes on (independent of the read model). */
class StreamTally {
  readonly byJob = new Map<string, JobEvent[]>();
  readonly ended = new Set<string>();
  private next = 1;
  malformed = 0;

  constructor(private readonly store: EventStore) {}

  async poll(): Promise<void> {
    const last = await this.store.lastSeq();
    if (last < this.next) return;
    await this.store.readRange(this.next, last, async (items) => {
      for (const item of items) {
        const seq = item.ok ? item.stored.seq : item.malformed.seq;
        if (seq < this.next) continue;
        this.next = seq + 1;
        if (!item.ok) {
          this.malformed++;
          continue;
        }
        const event = item.stored.event;
        const events = this.byJob.get(event.jobId) ?? [];
        events.push(event);
        this.byJob.set(event.jobId, events);
        if (isTerminal(event)) this.ended.add(event.jobId);
      }
    });
  }
}

/** What is wrong with one job's history, if anything. */
export function checkJob(events: JobEvent[]): { duplicates: number; problems: string[]; ended: boolean } {
  const problems: string[] = [];
  let duplicates = 0;
  const submissions = events.filter((e) => e.type === 'VideoSubmitted').length;
  if (submissions !== 1) problems.push(`${submissions} submissions`);
  duplicates += Math.max(0, submissions - 1);
  const lifecycle = events.filter((e) => e.type !== 'VideoSubmitted');
  const terminals = lifecycle.filter(isTerminal);
  duplicates += Math.max(0, terminals.length - 1);
  if (terminals.length > 1) problems.push(`${terminals.length} terminal events`);
  const end = lifecycle.findIndex(isTerminal);
  if (end >= 0 && end < lifecycle.length - 1) problems.push(`${lifecycle.length - 1 - end} events after the end`);
  let attempt = 0;
  const endings = new Map<number, number>();
  for (const event of lifecycle) {
    if (event.type === 'JobStarted') {
      if (event.data.attempt <= attempt) {
        duplicates++;
        problems.push(`attempt ${event.data.attempt} started twice`);
      } else if (event.data.attempt !== attempt + 1) {
        problems.push(`attempt ${event.data.attempt} follows ${attempt}`);
      }
      attempt = Math.max(attempt, event.data.attempt);
    } else if (event.type === 'JobCompleted' || (event.type === 'JobFailed' && !event.data.deadLetter)) {
      if (event.data.attempt !== attempt) problems.push(`${event.type} of attempt ${event.data.attempt} during attempt ${attempt}`);
      const n = (endings.get(event.data.attempt) ?? 0) + 1;
      endings.set(event.data.attempt, n);
      if (n > 1) {
        duplicates++;
        problems.push(`attempt ${event.data.attempt} ended twice`);
      }
    }
  }
  const split = checkSplit(lifecycle);
  return { duplicates: duplicates + split.duplicates, problems: [...problems, ...split.problems], ended: terminals.length > 0 };
}

/**
 * What is wrong with a split job's parts (issue #19), in a job's events after its submission: per
 * attempt at most one split, and each part event after it; per (attempt, part) at most one
 * PartCompleted, which ends a PartStarted of its own part attempt; the join asked for at most once,
 * and only after every part the split did not keep is completed; the attempt that split the job ends
 * exactly once, and only by its join (JobCompleted after JoinRequested), a failure or a cancel. Empty
 * for a job that was never split.
 */
export function checkSplit(lifecycle: readonly JobEvent[]): { duplicates: number; problems: string[] } {
  const problems: string[] = [];
  let duplicates = 0;
  const splits = new Map<number, Extract<JobEvent, { type: 'JobSplit' }>>();
  const started = new Set<string>();
  const completed = new Map<number, Set<number>>();
  const joined = new Set<number>();
  const endings = new Map<number, number>();
  for (const event of lifecycle) {
    switch (event.type) {
      case 'JobSplit':
        if (splits.has(event.data.attempt)) {
          duplicates++;
          problems.push(`attempt ${event.data.attempt} split twice`);
        }
        splits.set(event.data.attempt, event);
        completed.set(event.data.attempt, new Set(event.data.kept));
        break;
      case 'PartRequested':
      case 'PartStarted':
      case 'PartProgressed':
      case 'PartCompleted':
      case 'PartFailed': {
        const { attempt } = event.data;
        const index = event.type === 'PartRequested' ? event.data.part.index : event.data.index;
        if (!splits.get(attempt)?.data.parts.some((part) => part.index === index)) {
          problems.push(`${event.type} of part ${index} of attempt ${attempt}, which no split of that attempt has`);
          break;
        }
        if (event.type === 'PartRequested') break;
        const key = `${attempt}/${index}/${event.data.partAttempt}`;
        if (event.type === 'PartStarted') {
          if (started.has(key)) {
            duplicates++;
            problems.push(`attempt ${event.data.partAttempt} of part ${index} (attempt ${attempt}) started twice`);
          }
          started.add(key);
          break;
        }
        if (!started.has(key)) problems.push(`${event.type} of attempt ${event.data.partAttempt} of part ${index} (attempt ${attempt}), which never started`);
        if (event.type !== 'PartCompleted') break;
        const made = completed.get(attempt)!;
        if (made.has(index)) {
          duplicates++;
          problems.push(`part ${index} of attempt ${attempt} completed twice`);
        }
        made.add(index);
        break;
      }
      case 'JoinRequested': {
        const { attempt } = event.data;
        const split = splits.get(attempt);
        if (joined.has(attempt)) {
          duplicates++;
          problems.push(`attempt ${attempt} asked for its join twice`);
        }
        joined.add(attempt);
        const missing = split ? split.data.parts.filter((part) => !completed.get(attempt)!.has(part.index)).map((part) => part.index) : [];
        if (!split) problems.push(`join of attempt ${attempt}, which never split`);
        else if (missing.length > 0) problems.push(`join of attempt ${attempt} before parts ${missing.join(', ')} completed`);
        break;
      }
      case 'JobCompleted':
      case 'JobFailed':
      case 'JobCancelled': {
        const { attempt } = event.data;
        if (!splits.has(attempt)) break;
        endings.set(attempt, (endings.get(attempt) ?? 0) + 1);
        if (event.type === 'JobCompleted' && !joined.has(attempt)) problems.push(`attempt ${attempt} completed without its join`);
        break;
      }
      default:
        break;
    }
  }
  // Every split attempt but a job's last is ended before the next one starts (a redrive follows an end).
  const ended = lifecycle.some(isTerminal);
  for (const attempt of splits.keys()) {
    const n = endings.get(attempt) ?? 0;
    if (n > 1) problems.push(`split attempt ${attempt} ended ${n} times`);
    if (n === 0 && ended) problems.push(`split attempt ${attempt} never ended`);
  }
  return { duplicates, problems };
}

/** `job type` of the end a job's history owes an endpoint hearing every end, or null while it has not ended. */
export function owedEnd(events: readonly JobEvent[]): string | null {
  const end = events.find(isTerminal);
  const type = end ? webhookEventTypeOf(end) : null;
  return end && type ? `${end.jobId} ${type}` : null;
}

/**
 * What the receiver heard, against the ends owed (`job type`): which never came, how many came
 * again (with the same webhook-id: an attempt retried; with another: the end recorded twice), and
 * which should not have come at all (an end the stream does not hold, or a body whose status is
 * not the event's).
 */
export function tallyWebhooks(owed: ReadonlySet<string>, received: readonly SunkWebhook[]) {
  const ids = new Map<string, Set<string>>();
  const duplicates = { sameId: 0, otherId: 0 };
  let unsigned = 0;
  const unexpected: string[] = [];
  for (const webhook of received) {
    const key = `${webhook.jobId} ${webhook.type}`;
    if (!webhook.signed) unsigned++;
    if (!owed.has(key) || webhook.status !== webhook.type.replace(/^job\./, '')) unexpected.push(`${key} (status ${webhook.status})`);
    const seen = ids.get(key);
    if (!seen) {
      ids.set(key, new Set([webhook.id]));
      continue;
    }
    if (seen.has(webhook.id)) duplicates.sameId++;
    else duplicates.otherId++;
    seen.add(webhook.id);
  }
  const missing = [...owed].filter((key) => !ids.has(key));
  return { delivered: owed.size - missing.length, missing, duplicates, unsigned, unexpected };
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const workers = options.workers ?? 3;
  const killEveryMs = options.killEveryMs ?? 2000;
  const concurrency = options.uploadConcurrency ?? 8;
  const started = Date.now();
  const receiver = await WebhookSink.start({ failRate: options.webhookFailRate ?? 0.03 });
  const scratch = await scratchDir('framewire-chaos-').catch(async (error: unknown) => {
    await receiver.close();
    throw error;
  });
  let nats: NatsServer | null = null;
  let postgres: PostgresServer | null = null;
  let fleet: Fleet | null = null;
  let nc: NatsConnection | null = null;
  try {
    [nats, postgres] = await Promise.all([startNatsServer({ storeDir: join(scratch.dir, 'nats') }), startPostgres(scratch.dir)]);
    const subjects = jobSubjects('chaos');
    const port = await freeTcpPort();
    const base = `http://127.0.0.1:${port}`;
    fleet = new Fleet({
      NATS_URL: nats.url,
      DATABASE_URL: postgres.url,
      FRAMEWIRE_NAMESPACE: subjects.namespace,
      LOG_LEVEL: 'warn',
      WORKER_CONCURRENCY: '2',
      // A killed worker's job comes back after 3 s; a running one heartbeats every second.
      WORKER_ACK_WAIT_MS: '3000',
    });
    // The receiver is on loopback over http; a refused delivery comes back within a second or two.
    fleet.start('jobs', 'jobs', {
      WEBHOOK_ALLOW_HTTP: '1',
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: '1',
      WEBHOOK_RETRY_BASE_MS: '200',
      WEBHOOK_RETRY_MAX_MS: '2000',
      WEBHOOK_TIMEOUT_MS: '2000',
    });
    for (let i = 1; i <= workers; i++) fleet.start(`worker-${i}`, 'worker', { WORKER_ID: `chaos-worker-${i}` });
    // One client submitting thousands of jobs: the per-key limits are for tenants, not for this run.
    fleet.start('gateway', 'gateway', { PORT: String(port), HOST: '127.0.0.1', RPC_TIMEOUT_MS: '3000', RATE_LIMIT_REQUESTS: '0', MAX_CONCURRENT_UPLOADS_PER_KEY: '64' });
    const clip = await readFile(await makeVideo(join(scratch.dir, 'clip.mp4'), { seconds: 0.5, width: 64, height: 48 }));
    // The split jobs' video: 6 s with a key frame every second, cut into three parts of 2 s.
    const splitEvery = options.splitEvery ?? 20;
    const long = join(scratch.dir, 'long.mp4');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=25', '-t', '6', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', long]);
    const longClip = await readFile(long);
    // An admin key in the jobs service's key store (it creates the store as it starts).
    const auth = await eventuallyKey(postgres.url);
    for (let ready = false; !ready; await sleep(200)) {
      ready = (await fetch(`${base}/v1/jobs?limit=1`, { headers: auth }).catch(() => null))?.status === 200;
    }
    // Before the first job: an endpoint hears only events stored after it was made.
    const webhook = await createWebhook(base, auth, receiver.url);
    receiver.secrets.push(webhook.secret);
    nc = await connectNats(nats.url, 'chaos-observer');
    const store = new EventStore(nc, subjects);
    const tally = new StreamTally(store);
    log(`chaos: ${options.jobs} probe jobs, ${workers} workers, NATS ${nats.url}, PostgreSQL on ${postgres.port}`);

    // Submissions: each job has its own Idempotency-Key, retried until it is accepted.
    const kills = { workers: 0, nats: 0, postgres: 0, projector: 0 };
    let submitRetries = 0;
    const accepted = new Set<string>();
    const submitOne = async (i: number): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        const form = new FormData();
        const split = splitEvery > 0 && i % splitEvery === 0;
        form.set('pipeline', split ? 'transcode' : 'probe');
        if (split) form.set('params', JSON.stringify({ split_seconds: 2, preset: 'ultrafast', height: 120 }));
        form.set('file', new Blob([split ? longClip : clip], { type: 'video/mp4' }), `clip-${i}.mp4`);
        const res = await fetch(`${base}/v1/jobs`, { method: 'POST', body: form, headers: { ...auth, 'Idempotency-Key': `chaos-${i}` }, signal: AbortSignal.timeout(15_000) }).catch(() => null);
        if (res?.status === 202) {
          accepted.add(((await res.json()) as { job_id: string }).job_id);
          return;
        }
        if (res && res.status < 500) throw new Error(`submission ${i} was refused: ${res.status} ${await res.text()}`);
        await res?.body?.cancel().catch(() => undefined);
        submitRetries++;
        await sleep(Math.min(2000, 100 * 2 ** attempt));
      }
    };
    const submitStart = Date.now();
    let nextJob = 0;
    const submitting = Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (nextJob < options.jobs) await submitOne(nextJob++);
      }),
    ).then(() => (Date.now() - submitStart) / 1000);

    // The chaos itself.
    const killer = setInterval(() => {
      const names = fleet!.names('worker-');
      const victim = names[Math.floor(Math.random() * names.length)];
      if (victim && fleet!.kill(victim)) kills.workers++;
    }, killEveryMs);
    const whenAccepted = async (share: number) => {
      while (accepted.size < Math.ceil(options.jobs * share)) await sleep(50);
    };
    const chaos = (async () => {
      await whenAccepted(0.3);
      log(`chaos: killing NATS (SIGKILL) with ${accepted.size} jobs accepted`);
      await nats!.stop('SIGKILL');
      kills.nats++;
      await sleep(1000);
      await nats!.start();
      await whenAccepted(0.6);
      log(`chaos: crashing PostgreSQL with ${accepted.size} jobs accepted`);
      await postgres!.crash();
      kills.postgres++;
      await sleep(1000);
      await postgres!.start();
      await whenAccepted(0.9);
      log(`chaos: killing the jobs service (the projector) with ${accepted.size} jobs accepted`);
      if (fleet!.kill('jobs')) kills.projector++;
    })();

    const submitSeconds = await submitting;
    await chaos;
    log(`chaos: ${accepted.size} jobs accepted in ${submitSeconds.toFixed(1)} s; waiting for every job to end`);

    // Wait until the stream holds an end for every accepted job, or nothing has moved for two minutes.
    let lastProgress = Date.now();
    let seen = 0;
    while (tally.ended.size < accepted.size && Date.now() - lastProgress < 120_000) {
      await tally.poll().catch(() => undefined);
      if (tally.ended.size > seen) {
        seen = tally.ended.size;
        lastProgress = Date.now();
      }
      await sleep(1000);
    }
    clearInterval(killer);
    log(`chaos: ${tally.ended.size} of ${accepted.size} jobs ended; waiting for the read model and the webhooks`);

    // The read model catches up with the stream.
    const lastSeq = await store.lastSeq();
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline && ((await readModel(postgres.url, 'public').catch(() => null))?.checkpoint ?? 0) < lastSeq) await sleep(500);

    // The receiver hears every end, or nothing new arrives for 45 s: longer than what the killed jobs
    // service held comes back after (a delivery's lease, WEBHOOK_TIMEOUT_MS + 30 s; an event the
    // fan-out had not acked, its consumer's ack wait of 30 s).
    const webhookWait = Date.now();
    await tally.poll().catch(() => undefined);
    const owed = new Set([...accepted].map((id) => owedEnd(tally.byJob.get(id) ?? [])).filter((key): key is string => key !== null));
    let heard = -1;
    for (let lastHeard = Date.now(); Date.now() - lastHeard < 45_000; await sleep(200)) {
      const { missing } = tallyWebhooks(owed, receiver.received);
      if (missing.length === 0) break;
      if (owed.size - missing.length > heard) {
        heard = owed.size - missing.length;
        lastHeard = Date.now();
      }
    }
    const webhookWaitSeconds = (Date.now() - webhookWait) / 1000;
    log(`chaos: the receiver heard ${tallyWebhooks(owed, receiver.received).delivered} of ${owed.size} ends after waiting ${webhookWaitSeconds.toFixed(1)} s`);
    const workInfo = await (await jetstreamManager(nc)).consumers.info(subjects.streamName, WORK_CONSUMER);
    const exits = await fleet.stopAll();
    await tally.poll();

    // Checks.
    const violations: string[] = [];
    let duplicates = 0;
    let lost = 0;
    let completed = 0;
    let deadLetters = 0;
    let extraAttempts = 0;
    const split = { jobs: 0, completed: 0, parts: 0, extraPartAttempts: 0, workMessages: 0 };
    const failed: Record<string, number> = {};
    const failures: string[] = [];
    const unexpectedJobs = [...tally.byJob.keys()].filter((id) => !accepted.has(id));
    if (unexpectedJobs.length > 0) violations.push(`${unexpectedJobs.length} jobs in the stream that no client was told about`);
    if (tally.malformed > 0) violations.push(`${tally.malformed} malformed messages in the stream`);
    for (const jobId of accepted) {
      const events = tally.byJob.get(jobId) ?? [];
      const check = checkJob(events);
      duplicates += check.duplicates;
      if (!check.ended) lost++;
      for (const problem of check.problems) violations.push(`job ${jobId}: ${problem}`);
      extraAttempts += Math.max(0, events.filter((e) => e.type === 'JobStarted').length - 1);
      const end = events.find(isTerminal);
      const cuts = events.filter((e) => e.type === 'JobSplit');
      if (cuts.length > 0) {
        split.jobs++;
        if (end?.type === 'JobCompleted') split.completed++;
        const lastCut = cuts.at(-1)!;
        split.parts += lastCut.type === 'JobSplit' ? lastCut.data.parts.length : 0;
        const starts = events.filter((e) => e.type === 'PartStarted');
        split.extraPartAttempts += starts.length - new Set(starts.map((e) => (e.type === 'PartStarted' ? `${e.data.attempt}/${e.data.index}` : ''))).size;
        split.workMessages += events.filter((e) => e.type === 'PartRequested' || e.type === 'JoinRequested').length;
      }
      if (end?.type === 'JobCompleted') completed++;
      if (end?.type === 'JobFailed') {
        failed[end.data.error.code] = (failed[end.data.error.code] ?? 0) + 1;
        if (failures.length < 10) failures.push(`${end.jobId} attempt ${end.data.attempt} of ${events.filter((e) => e.type === 'JobStarted').length} started: ${end.data.error.code}: ${end.data.error.message.slice(0, 300)}`);
        if (end.data.deadLetter) deadLetters++;
      }
    }
    if (lost > 0) violations.push(`${lost} jobs lost (accepted, never ended)`);
    if (duplicates > 0) violations.push(`${duplicates} duplicates`);

    await replayInto(store, postgres.url, 'replay');
    const live = await readModel(postgres.url, 'public');
    const replay = await readModel(postgres.url, 'replay');
    const differing = differingRows(live.rows, replay.rows);
    if (live.checkpoint !== lastSeq) violations.push(`read model at ${live.checkpoint}, stream at ${lastSeq}`);
    if (differing.length > 0) {
      violations.push(`${differing.length} read-model rows differ from a fresh replay (e.g. ${differing.slice(0, 3).join(', ')})`);
      for (const line of describeDifferences(live.rows, replay.rows)) log(`chaos: differs: ${line}`);
    }
    if (live.rows.length !== accepted.size) violations.push(`${live.rows.length} rows for ${accepted.size} jobs`);

    const heardEnds = tallyWebhooks(owed, receiver.received);
    if (heardEnds.missing.length > 0) violations.push(`${heardEnds.missing.length} job ends never delivered by webhook (e.g. ${heardEnds.missing.slice(0, 3).join(', ')})`);
    if (heardEnds.unexpected.length > 0) violations.push(`${heardEnds.unexpected.length} webhooks for no end the stream holds (e.g. ${heardEnds.unexpected.slice(0, 3).join(', ')})`);
    if (heardEnds.unsigned > 0) violations.push(`${heardEnds.unsigned} webhooks without a valid signature`);
    if (owed.size !== accepted.size - lost) violations.push(`${owed.size} ends owed to the webhook for ${accepted.size - lost} ended jobs`);

    const stops = Object.values(exits);
    const unclean = Object.entries(exits).filter(([, code]) => code !== 0).map(([name, code]) => `${name}: ${code}`);
    return {
      jobs: options.jobs,
      accepted: accepted.size,
      completed,
      failed,
      failures,
      deadLetters,
      kills,
      unexpectedExits: fleet.unexpectedExits,
      submitRetries,
      // The same consumer delivers the split jobs' part and join requests, each a work message of its own.
      redeliveries: workInfo.delivered.consumer_seq - accepted.size - split.workMessages,
      extraAttempts,
      duplicates,
      lost,
      split: { jobs: split.jobs, completed: split.completed, parts: split.parts, extraPartAttempts: split.extraPartAttempts },
      readModelRows: live.rows.length,
      readModelDiffering: differing.length,
      webhooks: {
        expected: owed.size,
        delivered: heardEnds.delivered,
        missing: heardEnds.missing.slice(0, 10),
        duplicates: heardEnds.duplicates,
        refused: receiver.refused,
        unsigned: heardEnds.unsigned,
        waitSeconds: webhookWaitSeconds,
      },
      cleanStops: `${stops.filter((code) => code === 0).length}/${stops.length}${unclean.length ? ` (not clean: ${unclean.join(', ')})` : ''}`,
      submitSeconds,
      wallSeconds: (Date.now() - started) / 1000,
      violations,
    };
  } finally {
    await fleet?.stopAll().catch(() => undefined);
    await nc?.close().catch(() => undefined);
    await nats?.stop('SIGKILL').catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    await scratch.cleanup();
    await receiver.close();
  }
}

export function formatReport(report: ChaosReport): string {
  const failed = Object.entries(report.failed).map(([code, n]) => `${n} ${code}`).join(', ') || 'none';
  const rows: Array<[string, string | number]> = [
    ['jobs', `${report.jobs} submitted, ${report.accepted} accepted`],
    ['outcomes', `${report.completed} completed, failed: ${failed} (dead letters: ${report.deadLetters})`],
    ['kills', `${report.kills.workers} workers (SIGKILL every 2 s), NATS ${report.kills.nats}, PostgreSQL ${report.kills.postgres}, projector ${report.kills.projector}`],
    ['redeliveries', `${report.redeliveries} (server deliveries beyond the first), ${report.extraAttempts} extra attempts`],
    ['submission retries', report.submitRetries],
    ['split jobs', `${report.split.jobs} (${report.split.completed} completed), ${report.split.parts} parts, ${report.split.extraPartAttempts} part attempts beyond each part's first`],
    ['duplicates', report.duplicates],
    ['lost', report.lost],
    ['read model', `${report.readModelRows} rows, ${report.readModelDiffering} differ from a fresh replay`],
    ['webhooks', webhookLine(report.webhooks)],
    ['unexpected exits', report.unexpectedExits.length],
    ['clean SIGTERM stops', report.cleanStops],
    ['wall time', `${report.wallSeconds.toFixed(1)} s (submissions ${report.submitSeconds.toFixed(1)} s)`],
    ['violations', report.violations.length === 0 ? 'none' : report.violations.slice(0, 20).join('\n  ')],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const lines = rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`);
  const exits = report.unexpectedExits.slice(0, 5).map((exit) => `    ${exit.slice(0, 3000)}`);
  const failures = report.failures.map((failure) => `    ${failure}`);
  return [
    'chaos run:',
    ...lines,
    ...(failures.length ? ['  failed jobs (the first ten):', ...failures] : []),
    ...(exits.length ? ['  unexpected exits (restarted):', ...exits] : []),
  ].join('\n');
}

function webhookLine(w: WebhookTally): string {
  const missing = w.expected - w.delivered;
  return (
    `${w.delivered} of ${w.expected} job ends delivered${missing ? ` (${missing} missing)` : ''}, ` +
    `duplicates ${w.duplicates.sameId} same webhook-id + ${w.duplicates.otherId} another (at least once), ` +
    `${w.refused} answered 503 and retried, waited ${w.waitSeconds.toFixed(1)} s for the last`
  );
}

/** Registers the receiver for every job end, retrying while the jobs service answers 5xx (it may be starting). */
async function createWebhook(base: string, auth: Record<string, string>, url: string): Promise<WebhookWithSecret> {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(`${base}/v1/webhooks`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ url, events: ['job.completed', 'job.failed', 'job.cancelled'], description: 'chaos receiver' }),
    }).catch(() => null);
    if (res?.status === 201) return (await res.json()) as WebhookWithSecret;
    if (res && res.status < 500) throw new Error(`the webhook was refused: ${res.status} ${await res.text()}`);
    if (attempt >= 50) throw new Error(`the webhook was not created: ${res ? res.status : 'no answer'}`);
    await sleep(200);
  }
}

/** Makes an admin key for the chaos run, retrying while PostgreSQL is still coming up. */
async function eventuallyKey(databaseUrl: string): Promise<Record<string, string>> {
  for (let attempt = 1; ; attempt++) {
    try {
      const keys = await testKeys('public', databaseUrl);
      try {
        return (await keys.create('default', true, 'chaos')).headers;
      } finally {
        await keys.close();
      }
    } catch (error) {
      if (attempt >= 50) throw error;
      await sleep(200);
    }
  }
}
