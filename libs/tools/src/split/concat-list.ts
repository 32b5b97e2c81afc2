import { copyFile, link } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ErrorCode } from '@app/contracts';
import { ToolError } from '../tool.js';

const PLAIN_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;

/**
 * The name, beside a concat list in `dir`, of the file at `path`: the worker only lets ffmpeg read a
 * list of plain names of files next to it (see the ffmpeg runner). A file elsewhere is linked there
 * under `name` (or copied, across file systems).
 */
export async function besideList(dir: string, path: string, name: string): Promise<string> {
  if (dirname(path) === dir && PLAIN_NAME.test(basename(path))) return basename(path);
  if (!PLAIN_NAME.test(name)) throw new ToolError(ErrorCode.ToolFailed, `not a plain file name for a concat list: ${JSON.stringify(name)}`, false);
  const target = join(dir, name);
  await link(path, target).catch(() => copyFile(path, target));
  return name;
}

/** An ffconcat list of plain names (from besideList), each with the length it lasts when given. */
export function ffconcatList(entries: ReadonlyArray<{ name: string; durationSec?: number }>): string {
  const lines = ['ffconcat version 1.0'];
  for (const { name, durationSec } of entries) {
    lines.push(`file '${name}'`);
    if (durationSec !== undefined) lines.push(`duration ${durationSec.toFixed(6)}`);
  }
  return `${lines.join('\n')}\n`;
}
