import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { basename } from 'node:path';
import { ErrorCode } from '@app/contracts';
import type { WorkerConfig } from '@app/config';
import { recordError, SpanKind, SpanStatusCode, startSpan, TraceAttr, tracingActive } from '@app/observability';
import { ToolError } from '@app/tools';

/**
 * The address-space cap of each ffmpeg and ffprobe process, in MiB (0: none): FFMPEG_MEMORY_MB, or
 * by default 4 GiB, or 256 MiB per thread when that is more (x264 at 4K needs about 1.6 GiB with 2
 * threads and 4 GiB with 16; the cap counts address space, shared libraries and thread stacks
 * included, not only memory in use).
 */
export function memoryCapMb(config: Pick<WorkerConfig, 'FFMPEG_MEMORY_MB' | 'FFMPEG_THREADS'>): number {
  return config.FFMPEG_MEMORY_MB ?? Math.max(4096, 256 * config.FFMPEG_THREADS);
}

/**
 * Starts ffmpeg or ffprobe with nothing on stdin and its memory capped: through `sh -c 'ulimit -v'`
 * (Node has no setrlimit), which then execs the binary, so the child's pid is the tool's and a
 * SIGKILL reaches it. An allocation past the cap fails inside the tool, which then exits with an
 * error naming it (see resourceFailure) or dies by a signal. When the wrapper itself fails, it exits
 * 126 or 127 (a cap above the worker's own hard limit, which `ulimit` may not raise; a binary that
 * is not there or not executable), which resourceFailure reads as a setup problem.
 */
export function spawnCapped(binary: string, args: readonly string[], memoryMb: number, signal: AbortSignal): ChildProcessWithoutNullStreams {
  const options = { stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'], signal, killSignal: 'SIGKILL' as const };
  const child =
    memoryMb <= 0
      ? (spawn(binary, args, options) as unknown as ChildProcessWithoutNullStreams)
      : (spawn('/bin/sh', ['-c', 'ulimit -v "$1" || exit 127; shift; exec "$@"', 'sh', String(memoryMb * 1024), binary, ...args], options) as unknown as ChildProcessWithoutNullStreams);
  if (tracingActive()) traceProcess(child, binary, args);
  return child;
}

/**
 * A span for one run of a tool's process, child of the span running now (the tool's): its command
 * and arguments as given (the memory cap's shell wrapper left out), its exit code, and an error
 * status when it did not exit 0.
 */
function traceProcess(child: ChildProcessWithoutNullStreams, binary: string, args: readonly string[]): void {
  const span = startSpan(basename(binary), { kind: SpanKind.INTERNAL, attributes: { [TraceAttr.processCommand]: binary, [TraceAttr.processArgs]: [binary, ...args] } });
  if (child.pid) span.setAttribute('process.pid', child.pid);
  let ended = false;
  const end = () => {
    ended = true;
    span.end();
  };
  child.once('error', (error) => {
    if (ended) return;
    recordError(span, error);
    end();
  });
  child.once('close', (code, signalName) => {
    if (ended) return;
    if (code !== null) span.setAttribute(TraceAttr.processExitCode, code);
    if (signalName) span.setAttribute('process.exit.signal', signalName);
    if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message: signalName ? `killed by ${signalName}` : `exit code ${code}` });
    end();
  });
}

/** What ffmpeg, its libraries and the loader say when an allocation, a mapping or a thread is refused. */
const OUT_OF_MEMORY = /Cannot allocate memory|Could not allocate|malloc of size \d+ failed|Out of memory|failed to map segment|Resource temporarily unavailable|std::bad_alloc/i;

/**
 * A tool that ran out of its memory cap, or that died by a signal this worker did not send (a crash
 * on a hostile input, the kernel's OOM killer): RESOURCE_LIMIT, transient the first time (the job
 * runner makes a second one in a row permanent). TOOL_FAILED (transient, as a spawn ENOENT or EACCES
 * is) when the shell wrapper could not run it: no such binary, not executable, or the cap refused.
 * Null for any other failure.
 */
export function resourceFailure(tool: 'ffmpeg' | 'ffprobe', code: number | null, stderr: string, signalName: NodeJS.Signals | null, memoryMb: number): ToolError | null {
  const cap = memoryMb > 0 ? `its memory cap of ${memoryMb} MiB (FFMPEG_MEMORY_MB)` : 'memory';
  if (signalName) return new ToolError(ErrorCode.ResourceLimit, `${tool} was killed by ${signalName}: it ran out of ${cap}, or crashed on this input`, false);
  if (OUT_OF_MEMORY.test(stderr)) return new ToolError(ErrorCode.ResourceLimit, `${tool} ran out of ${cap}: ${lastLine(stderr)}`, false);
  if ((code === 126 || code === 127) && memoryMb > 0) return new ToolError(ErrorCode.ToolFailed, `${tool} could not run: ${stderr.trim().split('\n').at(-1)?.slice(0, 300) || `exit code ${code}`}`, false);
  return null;
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines.find((line) => OUT_OF_MEMORY.test(line)) ?? lines.at(-1) ?? '').trim().slice(0, 500);
}
