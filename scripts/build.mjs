#!/usr/bin/env node
// Writes the OpenAPI document and the client's types (scripts/openapi.mjs), builds every app with
// `nest build --all`, then the dashboard with Vite (into dist/dashboard, which the
// gateway serves). With --if-stale it does nothing when dist/ is newer than
// every source and config file, so `npm start` only pays for a build when something changed.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const stamp = join(root, 'dist', '.build-stamp');
const inputs = ['apps', 'libs', 'packages', 'tsconfig.json', 'nest-cli.json', 'package-lock.json'];

function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let max = stat.mtimeMs;
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules') continue;
    max = Math.max(max, newest(join(path, entry)));
  }
  return max;
}

if (process.argv.includes('--if-stale') && existsSync(stamp)) {
  const sources = Math.max(...inputs.filter((p) => existsSync(join(root, p))).map((p) => newest(join(root, p))));
  if (statSync(stamp).mtimeMs >= sources) process.exit(0);
}
// The OpenAPI document and the client's types generated from it come first: the CLI compiles against them.
const openapi = spawnSync(process.execPath, [join(root, 'scripts', 'openapi.mjs')], { cwd: root, stdio: 'inherit' });
if (openapi.status !== 0) process.exit(openapi.status ?? 1);
const result = spawnSync(process.execPath, [join(root, 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js'), 'build', '--all'], {
  cwd: root,
  stdio: 'inherit',
});
if (result.status !== 0) process.exit(result.status ?? 1);
const dashboard = spawnSync(process.execPath, [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(root, 'apps', 'dashboard', 'vite.config.ts'), '--logLevel', 'warn'], {
  cwd: root,
  stdio: 'inherit',
});
if (dashboard.status !== 0) process.exit(dashboard.status ?? 1);
writeFileSync(stamp, new Date().toISOString());
