import { Command } from 'commander';
import { useColour } from '@app/observability';
import { defaultDataDir } from '../connection.js';
import { out, outJson, runCommand } from '../shared/output.js';
import { allChecks } from './doctor.js';
import { doctorExitCode, formatReport } from './verdicts.js';

/** `framewire doctor`: what this machine and the services it would use lack, each with a verdict and what to do. */
export function doctorCommand(): Command {
  return new Command('doctor')
    .description('check this machine and the services Framewire would use: Node, ffmpeg, NATS, PostgreSQL, ports, the stream and the projector')
    .option('-p, --port <port>', 'the gateway port to check (PORT sets the default)', (value) => Number(value), Number(process.env['PORT'] ?? 3000))
    .option('--data-dir <dir>', 'the data directory of framewire start (FRAMEWIRE_DATA_DIR sets the default)', defaultDataDir())
    .option('--json', 'the checks as JSON: {"ok", "checks": [{"name", "verdict", "detail", "fix"}]}')
    .addHelpText(
      'after',
      `
Verdicts: ok; WARN (works, but worth knowing); FAIL (Framewire will not work so); skip (could not be checked).
Exit code: 0 when nothing failed, 1 otherwise.

NATS and PostgreSQL are looked for as the other commands do: NATS_URL and DATABASE_URL, else a
running framewire start (--data-dir), else the default addresses (where nothing answering is only a
warning: framewire start then starts its own). NATS_MONITOR_URL (the server's monitoring port,
e.g. http://127.0.0.1:8222) lets it read the server's sync_interval and its store's free space.`,
    )
    .action((options: { port: number; dataDir: string; json?: boolean }) =>
      runCommand(options, async () => {
        const checks = await allChecks({ port: options.port, dataDir: options.dataDir });
        const code = doctorExitCode(checks);
        if (options.json) outJson({ ok: code === 0, checks });
        else for (const line of formatReport(checks, useColour())) out(line);
        return code;
      }),
    );
}
