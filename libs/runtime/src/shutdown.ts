/** What closeOnSignals needs of a Nest application (or application context). */
export interface Closable {
  close(): Promise<void>;
}

export interface ShutdownLog {
  info(message: string): void;
  error(message: string): void;
}

/**
 * Graceful stop for a service process: the first SIGTERM or SIGINT closes the app, which runs every
 * shutdown hook (consumers stop, workers hand back their jobs, connections drain), then the process
 * exits 0. A second signal, or a close that takes longer than `hardLimitMs`, exits at once with 1.
 * Nest's own enableShutdownHooks re-raises the signal after closing, so a supervisor could not tell
 * a clean stop from a kill; this reports a clean stop as exit code 0. `afterClose` runs between the
 * close and the exit (spans still buffered are sent then).
 */
export function closeOnSignals(app: Closable, log: ShutdownLog, hardLimitMs: number, afterClose: () => Promise<void> = () => Promise.resolve()): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      log.error(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    closing = true;
    log.info(`${signal}: shutting down`);
    const limit = setTimeout(() => {
      log.error(`shutdown took longer than ${hardLimitMs} ms: exiting`);
      process.exit(1);
    }, hardLimitMs);
    limit.unref();
    app.close().then(afterClose).then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        log.error(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
