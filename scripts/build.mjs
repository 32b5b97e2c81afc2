#!/usr/bin/env node
// Writes the OpenAPI document and the client's types generated from it (scripts/openapi.mjs: the
// CLI and the dashboard compile against them), then builds each app of nest-cli.json with
// `nest build <app>`, and the dashboard with Vite (into dist/dashboard, which the gateway serves), as
// many at a time as there are CPUs. It says what it
// builds and how far it is: a line per step with its time, under a progress bar on a terminal
// (plain lines only when piped, as in CI logs), and the whole build's time.
// With --if-stale it does nothing when dist/ is newer than every source and config file, so
// `npm start` only pays for a build when something changed.
//
// Only the applications are built: every library shares an application's tsconfig (nest-cli.json
// gives them none), so `nest build --all` compiled the same program once per library as well.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import cliProgress from 'cli-progress';

const root = new URL('..', import.meta.url).pathname;
const stamp = join(root, 'dist', '.build-stamp');
const inputs = ['apps', 'libs', 'packages', 'tsconfig.json', 'nest-cli.json', 'package-lock.json'];

/** Tests are not part of the build (the apps' tsconfigs leave them out): editing one needs no rebuild. */
const TEST_FILE = /\.(spec|int-spec|e2e-spec)\.ts$/;

function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let max = stat.mtimeMs; // a file added, removed or renamed
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || TEST_FILE.test(entry)) continue;
    max = Math.max(max, newest(join(path, entry)));
  }
  return max;
}

/** Why a build is needed, or null when dist/ is up to date. */
function staleness() {
  if (!existsSync(stamp)) return 'no complete build in dist/ yet';
  const sources = Math.max(...inputs.filter((p) => existsSync(join(root, p))).map((p) => newest(join(root, p))));
  return statSync(stamp).mtimeMs >= sources ? null : 'sources changed since the last build';
}

/** The build's steps: the OpenAPI document and the client's types first, alone; one `nest build` per application, then the dashboard. */
function steps() {
  const openapi = { name: 'openapi', what: 'node scripts/openapi.mjs', args: [join(root, 'scripts', 'openapi.mjs')], first: true };
  const nest = JSON.parse(readFileSync(join(root, 'nest-cli.json'), 'utf8'));
  const apps = Object.entries(nest.projects)
    .filter(([, project]) => project.type === 'application')
    .map(([name]) => ({ name, what: `nest build ${name}`, args: [join(root, 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js'), 'build', name] }));
  const vite = [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(root, 'apps', 'dashboard', 'vite.config.ts'), '--logLevel', 'warn'];
  return [openapi, ...apps, { name: 'dashboard', what: 'vite build', args: vite }];
}

/** Runs one step with its output kept; resolves to its exit code and that output. */
function run(step) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, step.args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('error', (error) => resolve({ code: 1, output: `${output}${error.message}\n` }));
    child.once('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Where progress goes: plain lines, or on a terminal the same lines above a bar that shows the
 * steps done, the time so far and what is running.
 */
function progressReporter(total) {
  if (!process.stdout.isTTY) {
    return { line: (text) => process.stdout.write(`${text}\n`), update: () => undefined, stop: () => undefined };
  }
  const bars = new cliProgress.MultiBar(
    {
      stream: process.stdout,
      format: '[build] {bar} {value}/{total} steps | {duration_formatted} | {running}',
      hideCursor: true,
      clearOnComplete: true,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const bar = bars.create(total, 0, { running: '' });
  return {
    line: (text) => bars.log(`${text}\n`),
    update: (done, running) => bar.update(done, { running: running.join(', ') }),
    // log() only queues a line for the next redraw: one more, so the last step's line is not lost.
    stop: () => {
      bars.update();
      bars.stop();
    },
  };
}

async function build(reason) {
  const todo = steps();
  const concurrency = Math.max(1, Math.min(availableParallelism(), todo.length));
  const started = Date.now();
  // A build cut short leaves dist/ half-deleted: without the stamp, the next --if-stale builds again.
  rmSync(stamp, { force: true });
  const progress = progressReporter(todo.length);
  progress.line(`[build] ${reason}: building ${todo.map((s) => s.name).join(', ')} (${concurrency} at a time)`);
  const running = new Set();
  let done = 0;
  let failed = null;
  // The first steps run alone, before the rest: everything after them compiles against what they write.
  const first = todo.filter((step) => step.first);
  let queue = [...first];
  const worker = async () => {
    for (let step = queue.shift(); step && !failed; step = queue.shift()) {
      running.add(step.name);
      progress.update(done, [...running]);
      const begun = Date.now();
      const result = await run(step);
      running.delete(step.name);
      done += 1;
      if (result.code !== 0) {
        failed ??= { step, result };
        continue;
      }
      progress.line(`[build] ${done}/${todo.length} ${step.name} (${step.what}): ${seconds(Date.now() - begun)}`);
      progress.update(done, [...running]);
    }
  };
  await worker();
  queue = todo.filter((step) => !step.first);
  await Promise.all(Array.from({ length: concurrency }, worker));
  progress.stop();
  if (failed) {
    process.stdout.write(failed.result.output);
    process.stdout.write(`[build] ${failed.step.name} (${failed.step.what}) failed with exit code ${failed.result.code} after ${seconds(Date.now() - started)}\n`);
    return failed.result.code;
  }
  writeFileSync(stamp, new Date().toISOString());
  process.stdout.write(`[build] built in ${seconds(Date.now() - started)}\n`);
  return 0;
}

const reason = process.argv.includes('--if-stale') ? staleness() : 'asked to build';
if (reason !== null) process.exitCode = await build(reason);
