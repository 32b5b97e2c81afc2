/**
 * What `framewire` exits with, so scripts can tell a finding from a failure. The same table is in
 * docs/debugging.md and in `framewire --help`.
 */
export const ExitCode = {
  /** Done, nothing to report. */
  Ok: 0,
  /** Done, and it found something: `replay --verify` found drift between the live and the rebuilt model, or parked events. */
  Finding: 1,
  /** Bad usage: unknown option, missing argument, a job id or as-of point that cannot be read. */
  Usage: 2,
  /** What was asked for does not exist: no such job, a point before the job existed, no read model. */
  NotFound: 3,
  /** NATS or PostgreSQL could not be reached or did not answer. */
  Unavailable: 4,
  /** Refused because of the system's state: a swap to another projection version, a model already active. */
  Conflict: 5,
  /** Something unexpected went wrong (a bug): the message says what. */
  Internal: 70,
  /** A configuration variable is invalid (as for the services). */
  Config: 78,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODES_HELP = `
Exit codes:
  0   done
  1   a finding: replay --verify found differences or parked events
  2   bad usage (options, job id, as-of point)
  3   not found: no such job, a point before the job existed, no read model
  4   NATS or PostgreSQL unreachable
  5   refused by the system's state (e.g. --swap across projection versions)
  70  unexpected error
  78  invalid configuration variable`;

/** A failure with its exit code and a stable error code for --json output. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
