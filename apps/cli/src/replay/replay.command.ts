import { type Command, InvalidArgumentError } from 'commander';
import type { DataSource } from 'typeorm';
import type { EventStore } from '@app/event-store';
import {
  describeStreamMismatch,
  parkedEventView,
  PROJECTION_VERSION,
  ProjectionSwitchError,
  qualified,
  readCheckpoint,
  readModelStream,
  streamMismatchOf,
  type ProjectionRegistry,
  type SwitchResult,
} from '@app/read-model';
import { catchUpFromStream, DEFAULT_REBUILD_BATCH, rebuildIntoSchema, verifyAgainstLive, type RebuildStats, type VerifyReport } from '@app/replay';
import { loadCliConfig, withEventStore, withReadModel } from '../shared/cli-context.js';
import { CliError, ExitCode } from '../shared/exit-codes.js';
import { note, out, outJson, runCommand } from '../shared/output.js';
import { RebuildProgressView } from './rebuild-progress.js';

interface ReplayOptions {
  verify?: boolean;
  swap?: boolean;
  keep?: boolean;
  json?: boolean;
  batchSize: number;
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('rebuild the whole read model from the event stream into a shadow schema, with a progress bar (events/s, ETA)')
    .option(
      '--verify',
      'compare the rebuilt model with the live one at the same stream position and print every difference (row and column) and every parked event; exit 1 if any',
    )
    .option('--swap', 'switch to the rebuilt model atomically, without stopping the gateway or the jobs service (same projection version only)')
    .option('--keep', 'keep the shadow schema for inspection instead of dropping it (it is kept anyway after --swap, as the live model)')
    .option('--json', 'a JSON report on stdout: {rebuild, verify?, swap?}')
    .option('--batch-size <n>', 'events per transaction', batchSize, DEFAULT_REBUILD_BATCH)
    .addHelpText(
      'after',
      `
The rebuild reads the stream with an ordered consumer and writes batches into a new schema next to
DATABASE_SCHEMA; the live model is not touched. With --verify it stops at the live model's
checkpoint, and the comparison is made in one snapshot of the live model, so a running jobs service
can go on projecting meanwhile. Events whose rows could not be written (parked: the projection went
on without them) are listed for both models, with their jobs, and count as a finding. With --swap
the read model's views are re-pointed to the rebuilt schema in one transaction, after it has caught
up with the live checkpoint; the previous model is kept until the next switch. Without --swap (or
--keep) the shadow schema is dropped at the end.

Examples:
  framewire replay --verify
  framewire replay --verify --swap
  framewire replay --json | jq .rebuild.events_per_second`,
    )
    .action((options: ReplayOptions) => runCommand(options, () => replay(options)));
}

function batchSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new InvalidArgumentError('expected an integer from 1 to 10000');
  return n;
}

async function replay(options: ReplayOptions): Promise<ExitCode> {
  const config = loadCliConfig();
  return withReadModel(config, (ds, registry) =>
    withEventStore(config, async (store) => {
      const active = await registry.active().catch((error: unknown) => {
        if (error instanceof ProjectionSwitchError) {
          throw new CliError(
            ExitCode.NotFound,
            'NO_READ_MODEL',
            `no read model in schema "${config.DATABASE_SCHEMA}": start the jobs service with this DATABASE_URL and DATABASE_SCHEMA first`,
          );
        }
        throw error;
      });
      if (active.version !== PROJECTION_VERSION) {
        const what = `the live model is projection version ${active.version} and this CLI builds version ${PROJECTION_VERSION}`;
        if (options.swap) throw new CliError(ExitCode.Conflict, 'VERSION_MISMATCH', `${what}: upgrade the jobs service instead (it rebuilds by itself)`);
        note(`warning: ${what}; differences may come from that`);
      }
      const live = await readCheckpoint(ds, active.schema);
      if (options.verify) {
        // A model of another stream, or of one that lost events it folded (NATS lost its data, a
        // truncated block file on a lone server), has nothing to compare with: report that first.
        const mismatch = streamMismatchOf(active.schema, await readModelStream(ds, active.schema), await store.streamState());
        if (mismatch) {
          const line = `${describeStreamMismatch(mismatch)}; the jobs service rebuilds the model from this stream when its projector next starts`;
          if (options.json) outJson({ verify: { stream_mismatch: { reason: mismatch.reason, schema: mismatch.schema, checkpoint: mismatch.checkpoint, last_seq: mismatch.lastSeq, message: line } } });
          else out(`verify: STREAM: ${line}`);
          return ExitCode.Finding;
        }
      }
      const target = options.verify ? live : await store.lastSeq();
      const schema = registry.newModelSchemaName(PROJECTION_VERSION);
      const abort = new AbortController();
      const interrupt = () => abort.abort();
      process.once('SIGINT', interrupt);
      process.once('SIGTERM', interrupt);
      try {
        const held = await registry.whileHolding(registry.buildLockKey(schema), () =>
          runReplay({ ds, registry, store, schema, target, options, signal: abort.signal }),
        );
        if (!held) throw new CliError(ExitCode.Internal, 'INTERNAL', `could not lock the new schema ${schema}`);
        return held.value;
      } catch (error) {
        if (abort.signal.aborted) throw new CliError(ExitCode.Internal, 'INTERRUPTED', 'interrupted: the shadow schema was dropped');
        throw error;
      } finally {
        process.off('SIGINT', interrupt);
        process.off('SIGTERM', interrupt);
      }
    }),
  );
}

async function runReplay(context: {
  ds: DataSource;
  registry: ProjectionRegistry;
  store: EventStore;
  schema: string;
  target: number;
  options: ReplayOptions;
  signal: AbortSignal;
}): Promise<ExitCode> {
  const { ds, registry, store, schema, target, options, signal } = context;
  let kept = false;
  try {
    await registry.createBuild(PROJECTION_VERSION, 'replay', schema);
    const view = new RebuildProgressView(target, !options.json);
    let stats: RebuildStats;
    try {
      stats = await rebuildIntoSchema({
        store,
        ds,
        schema,
        toSeq: target,
        batchSize: options.batchSize,
        onProgress: (p) => view.update(p),
        signal,
      });
    } finally {
      view.stop();
    }
    const jobs = await countJobs(ds, schema);
    const report: Record<string, unknown> = { rebuild: rebuildJson(schema, stats, jobs) };
    if (!options.json) {
      out(
        `rebuilt ${stats.messages} events (seq ${stats.fromSeq}..${stats.toSeq}, ${jobs} job${jobs === 1 ? '' : 's'}) into ${schema} in ${(stats.elapsedMs / 1000).toFixed(2)} s: ${Math.round(stats.eventsPerSecond)} events/s`,
      );
      if (stats.parked > 0) out(`rebuild: parked ${stats.parked} event${stats.parked === 1 ? '' : 's'} whose rows could not be written`);
    }
    let code: ExitCode = ExitCode.Ok;
    if (options.verify) {
      const verified = await verifyAgainstLive({ ds, registry, store, rebuiltSchema: schema, batchSize: options.batchSize });
      report['verify'] = verifyJson(verified);
      if (!options.json) printVerify(verified);
      if (verified.differences.length > 0 || verified.parked.live.length > 0 || verified.parked.rebuilt.length > 0) code = ExitCode.Finding;
    }
    if (options.swap) {
      const switched = await registry.switchTo(schema, PROJECTION_VERSION, catchUpFromStream(store, ds, options.batchSize), { sameVersion: true });
      kept = true;
      report['swap'] = swapJson(switched);
      if (!options.json) {
        out(
          `swapped: the read model is now ${switched.to.schema} (projection version ${switched.to.version}) at seq ${switched.checkpoint}; ` +
            `the previous model ${switched.from.schema} is kept until the next switch`,
        );
      }
    }
    if (options.keep && !kept) {
      kept = true;
      if (!options.json) out(`kept the rebuilt model in schema ${schema}`);
    }
    report['kept_schema'] = kept ? schema : null;
    if (options.json) outJson(report);
    return code;
  } finally {
    if (!kept) await registry.dropBuild(schema).catch(() => undefined);
  }
}

async function countJobs(ds: DataSource, schema: string): Promise<number> {
  const [row] = (await ds.query(`SELECT count(*)::int AS n FROM ${qualified(schema, 'jobs')}`)) as [{ n: number }];
  return row.n;
}

function printVerify(report: VerifyReport): void {
  printDifferences(report);
  for (const [model, parked] of [
    ['live', report.parked.live],
    ['rebuilt', report.parked.rebuilt],
  ] as const) {
    if (parked.length === 0) continue;
    out(`verify: PARKED: ${parked.length} event${parked.length === 1 ? '' : 's'} in the ${model} model could not be written; the job${parked.length === 1 ? ' is' : 's are'} not what ${parked.length === 1 ? 'its' : 'their'} events say:`);
    for (const p of parked) out(`  seq ${p.seq} job ${p.jobId} ${p.type} v${p.version}: ${p.code} ${p.message}`);
  }
}

function printDifferences(report: VerifyReport): void {
  const where = `at seq ${report.checkpoint} (live ${report.liveSchema}: ${report.rowsLive} rows, rebuilt ${report.rebuiltSchema}: ${report.rowsRebuilt} rows)`;
  if (report.differences.length === 0) {
    out(`verify: no drift: the live model and the rebuilt one agree ${where}`);
    return;
  }
  const rows = report.differences.length;
  out(`verify: DRIFT: ${rows} row${rows === 1 ? '' : 's'} differ ${where}:`);
  for (const difference of report.differences) {
    switch (difference.kind) {
      case 'missing_in_live':
        out(`  job ${difference.jobId}: missing from the live model`);
        break;
      case 'missing_in_rebuilt':
        out(`  job ${difference.jobId}: only in the live model (the stream does not make it)`);
        break;
      case 'changed':
        for (const column of difference.columns) {
          out(`  job ${difference.jobId} column ${column.column}: live ${JSON.stringify(column.live)}, rebuilt ${JSON.stringify(column.rebuilt)}`);
        }
        break;
    }
  }
}

function rebuildJson(schema: string, stats: RebuildStats, jobs: number) {
  return {
    schema,
    from_seq: stats.fromSeq,
    to_seq: stats.toSeq,
    events: stats.messages,
    malformed: stats.malformed,
    parked: stats.parked,
    rows_written: stats.rows,
    jobs,
    seconds: stats.elapsedMs / 1000,
    events_per_second: stats.eventsPerSecond,
  };
}

function verifyJson(report: VerifyReport) {
  return {
    live_schema: report.liveSchema,
    rebuilt_schema: report.rebuiltSchema,
    checkpoint: report.checkpoint,
    rows_live: report.rowsLive,
    rows_rebuilt: report.rowsRebuilt,
    drift: report.differences.length > 0,
    differences: report.differences.map((d) => ({ job_id: d.jobId, kind: d.kind, columns: d.columns })),
    parked: { live: report.parked.live.map(parkedEventView), rebuilt: report.parked.rebuilt.map(parkedEventView) },
  };
}


function swapJson(result: SwitchResult) {
  return {
    from: { schema: result.from.schema, version: result.from.version },
    to: { schema: result.to.schema, version: result.to.version },
    checkpoint: result.checkpoint,
  };
}
