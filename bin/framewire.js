#!/usr/bin/env node
// The `framewire` command. The CLI itself is TypeScript, built with the apps by `npm run build`.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/apps/cli/apps/cli/src/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('framewire: the CLI is not built yet; run "npm run build" in the Framewire directory\n');
  process.exit(1);
}
await import(entry.href);
