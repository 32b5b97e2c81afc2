import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the built dashboard is: DASHBOARD_DIR when set, else the `dist/dashboard` of this
 * installation, found upward from this file (it sits under dist/ when built, under apps/ in tests).
 * Null when it was not built.
 */
export function findDashboardDir(configured: string | undefined): string | null {
  if (configured) return existsSync(join(configured, 'index.html')) ? resolve(configured) : null;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'dist', 'dashboard');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}
