import type { Command } from 'commander';
import type { EventStore } from '@app/event-store';
import { timeline, type HistoryEntry, type TimelineEntry } from '@app/job-state';
import { readJobHistory, toEntry } from '@app/replay';
import { loadCliConfig, parseJobIdArg, withEventStore } from '../shared/cli-context.js';
import { CliError, ExitCode } from '../shared/exit-codes.js';
import { formatDelta, out, outJson, runCommand, table } from '../shared/output.js';

interface EventsOptions {
  follow?: boolean;
  json?: boolean;
}

const TERMINAL = new Set(['completed', 'failed']);

export function registerEventsCommand(program: Command): void {
  program
    .command('events')
    .argument('<jobId>', 'the job id (a UUID)')
    .description("a job's timeline, read from the event stream: every event with its number, stream seq, time, type, attempt, worker and cause")
    .option('-f, --follow', 'keep printing events as they are appended, until the job ends or Ctrl-C')
    .option('--json', 'JSON for scripts: {job_id, events:[...]}; with --follow one event per line')
    .addHelpText(
      'after',
      `
Columns: # is the job's own event number (its version, what "state --as-of N" means), SEQ the
global stream sequence, +DELTA the time since the job's previous event, CAUSE the event number (or
id) that caused it. Times are when the stream stored the event (UTC).

Examples:
  framewire events 0193a6f0-0000-7000-8000-000000000002
  framewire events 0193a6f0-0000-7000-8000-000000000002 --follow
  framewire events 0193a6f0-0000-7000-8000-000000000002 --json | jq '.events[].type'`,
    )
    .action((jobId: string, options: EventsOptions) =>
      runCommand(options, async () => {
        const id = parseJobIdArg(jobId);
        const config = loadCliConfig();
        return withEventStore(config, async (store) => {
          const history = await readJobHistory(store, id);
          if (history.length === 0) throw new CliError(ExitCode.NotFound, 'JOB_NOT_FOUND', `no job ${id} in namespace "${config.FRAMEWIRE_NAMESPACE}"`);
          if (!options.follow) {
            const lines = timeline(history);
            if (options.json) outJson({ job_id: id, events: lines.map(toJson) });
            else printTimeline(id, lines);
            return ExitCode.Ok;
          }
          return follow(store, id, history, Boolean(options.json));
        });
      }),
    );
}

async function follow(store: EventStore, jobId: string, history: HistoryEntry[], json: boolean): Promise<ExitCode> {
  const print = (line: TimelineEntry, first: boolean) => {
    if (json) outJson(toJson(line));
    else {
      const rows = table(HEADER, [cells(line)]);
      if (first) out(rows[0]);
      out(rows[1]);
    }
  };
  const lines = timeline(history);
  lines.forEach((line, i) => print(line, i === 0));
  if (TERMINAL.has(lines.at(-1)!.status ?? '')) return ExitCode.Ok;

  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for await (const item of store.followJob(jobId, history.at(-1)!.seq, abort.signal)) {
      history.push(toEntry(item, history.length + 1));
      const line = timeline(history).at(-1)!;
      print(line, false);
      if (TERMINAL.has(line.status ?? '')) break;
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    abort.abort();
  }
  return ExitCode.Ok;
}

const HEADER = ['#', 'SEQ', 'STORED AT (UTC)', '+DELTA', 'TYPE', 'ATTEMPT', 'WORKER', 'STATUS', 'CORRELATION', 'CAUSE', 'DETAILS'];

function cells(line: TimelineEntry): string[] {
  const cause = line.causedBy !== null ? `#${line.causedBy}` : (line.causationId ?? '-');
  return [
    String(line.number),
    String(line.seq),
    line.storedAt,
    formatDelta(line.sincePreviousMs),
    line.type,
    line.attempt === null ? '-' : String(line.attempt),
    line.workerId ?? '-',
    line.status ?? '-',
    line.correlationId ?? '-',
    cause,
    line.summary,
  ];
}

function printTimeline(jobId: string, lines: TimelineEntry[]): void {
  const last = lines.at(-1)!;
  out(`job ${jobId}: ${lines.length} event${lines.length === 1 ? '' : 's'}, ${last.status ?? 'unknown'}`);
  for (const row of table(HEADER, lines.map(cells))) out(row);
}

/** The JSON of a timeline line: snake_case like the HTTP API. */
function toJson(line: TimelineEntry) {
  return {
    number: line.number,
    seq: line.seq,
    stored_at: line.storedAt,
    since_previous_ms: line.sincePreviousMs,
    type: line.type,
    version: line.version,
    event_id: line.eventId,
    occurred_at: line.occurredAt,
    attempt: line.attempt,
    worker_id: line.workerId,
    status: line.status,
    correlation_id: line.correlationId,
    causation_id: line.causationId,
    caused_by: line.causedBy,
    summary: line.summary,
  };
}
