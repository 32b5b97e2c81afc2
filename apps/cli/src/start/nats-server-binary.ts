import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** What to do when no nats-server new enough can be found or fetched: the end of the one line that says so. */
export const HOW_TO_GET_NATS_SERVER =
  'install nats-server 2.12 or newer (https://github.com/nats-io/nats-server/releases, Homebrew, or Debian unstable\'s nats-server package) ' +
  'and set FRAMEWIRE_NATS_SERVER=/path/to/nats-server, or run `bash scripts/nats-server.sh` to see why the fetch failed';

export class NatsServerUnavailableError extends Error {
  readonly code = 'NATS_SERVER_UNAVAILABLE';
}

/**
 * The path of a nats-server 2.12 or newer, as scripts/nats-server.sh finds it: FRAMEWIRE_NATS_SERVER,
 * the cache (~/.cache/framewire/nats-server), PATH, or else Debian's build fetched into the cache
 * (unless `fetch` is false). The script's "fetching ..." note goes to `log` as it comes.
 */
export function natsServerBinary(root: string, options: { fetch?: boolean; log?: (line: string) => void } = {}): Promise<string> {
  const script = join(root, 'scripts', 'nats-server.sh');
  const args = [script, ...(options.fetch === false ? ['--no-fetch'] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn('bash', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let lastNote = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        const note = line.trim();
        if (!note) continue;
        lastNote = note.replace(/^nats-server\.sh: /, '');
        // Progress ("fetching ...") as it happens; a failure's reason ends up in the error instead.
        if (lastNote.startsWith('fetching')) options.log?.(note);
      }
    });
    child.once('error', (error) => reject(new NatsServerUnavailableError(`cannot run ${script} (${error.message}): ${HOW_TO_GET_NATS_SERVER}`)));
    child.once('close', (code) => {
      const path = stdout.trim().split('\n').at(-1)?.trim() ?? '';
      if (code === 0 && path) return resolve(path);
      reject(new NatsServerUnavailableError(`no nats-server 2.12 or newer could be found${options.fetch === false ? '' : ' or fetched'} (${lastNote || `exit ${code}`}): ${HOW_TO_GET_NATS_SERVER}`));
    });
  });
}
