import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (where nest-cli.json is), found upward from this file or FRAMEWIRE_HOME. */
export function projectRoot(): string {
  if (process.env['FRAMEWIRE_HOME']) return resolve(process.env['FRAMEWIRE_HOME']);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'nest-cli.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the Framewire project root (no nest-cli.json above the CLI); set FRAMEWIRE_HOME');
    dir = parent;
  }
}

export type AppName = 'gateway' | 'jobs' | 'worker';

/** Where `nest build` puts an app's entry point. */
export function appEntry(root: string, app: AppName): string {
  return join(root, 'dist', 'apps', app, 'apps', app, 'src', 'main.js');
}
