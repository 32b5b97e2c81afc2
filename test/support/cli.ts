import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;

export interface CliRun {
  code: number | string;
  stdout: string;
  stderr: string;
}

/**
 * An empty data directory for the commands of this test process: a `framewire start` that runs on this
 * machine (its services.json under the project's .data) must not decide which NATS or database they use.
 */
let emptyDataDir: string | null = null;

/**
 * Runs the built `framewire` (bin/framewire.js) to its end, as a user would from a shell, with only
 * the given environment (plus PATH and HOME, and FRAMEWIRE_DATA_DIR set to an empty directory unless
 * given), and returns its exit code, stdout and stderr apart.
 */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'framewire.js'), ...args], {
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', FRAMEWIRE_DATA_DIR: (emptyDataDir ??= mkdtempSync(join(tmpdir(), 'framewire-cli-data-'))), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`framewire ${args.join(' ')} did not end within ${timeoutMs} ms; stdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? 'unknown', stdout, stderr });
    });
  });
}
