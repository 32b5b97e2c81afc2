import { dirname, join, relative, sep } from 'node:path';
import { ErrorCode } from '@app/contracts';
import { ToolError } from '@app/tools';

/**
 * The upload as ffmpeg and ffprobe may read it: the local file, and the demuxer of the container the
 * gateway sniffed it as. ffmpeg never guesses the format of an upload: with `-f`, a file that is
 * really a DASH or HLS manifest, a concat list or an image sequence pattern is read as the container
 * it was accepted as (and fails there), not opened by the demuxer that would follow its references.
 */
export interface MediaInput {
  path: string;
  demuxer: Demuxer;
  /**
   * The duration limit the upload was checked against (MEDIA_MAX_DURATION_SEC, or its pipeline's):
   * ffmpeg stops reading the upload there (`-t`), whatever its header said about its length.
   */
  maxDurationSec: number;
  /**
   * Set while the upload is still coming down from the Object Store: ffprobe reads it at `url` (see
   * serveGrowingFile), where a byte not written yet is waited for, instead of at `path`, where it
   * would look like the end of a short file. `downloaded` settles when the download has.
   */
  following?: { url: string; downloaded: Promise<void> };
}

export type Demuxer = 'mov' | 'matroska' | 'avi' | 'mpegts';

/** The content types the gateway stores (its media sniffer's), by the ffmpeg demuxer that reads them. */
const DEMUXERS: Record<string, Demuxer> = {
  'video/mp4': 'mov',
  'video/quicktime': 'mov',
  'video/x-matroska': 'matroska',
  'video/webm': 'matroska',
  'video/x-msvideo': 'avi',
  'video/mp2t': 'mpegts',
};

/** The demuxer for an upload's stored content type; null for one the gateway never accepts. */
export function demuxerFor(contentType: string): Demuxer | null {
  return DEMUXERS[contentType.split(';')[0]!.trim().toLowerCase()] ?? null;
}

/**
 * The options that go right before the upload's `-i`, for ffmpeg and ffprobe alike:
 * - `-f <demuxer>`: the sniffed container, no probing;
 * - `-protocol_whitelist file,pipe`: the upload and anything a demuxer opens on its behalf may only
 *   be a local file or a pipe, never a URL (http, tcp, rtmp, ...). Read while it downloads (`overHttp`:
 *   the worker's own loopback server for it), `http,tcp` and nothing else: no file, no pipe, no other
 *   protocol. None of the four demuxers opens another resource (MOV's references are off, below), so
 *   the one address given is all that is read;
 * - for MOV/MP4, `-enable_drefs 0`: external data references (`dref` `alis`/`url ` entries that
 *   point at another file) are not followed. It is ffmpeg's default; it is said here so that a
 *   different build or a future default cannot change it.
 */
export function inputOptions(demuxer: Demuxer, overHttp = false): string[] {
  return ['-f', demuxer, '-protocol_whitelist', overHttp ? 'http,tcp' : 'file,pipe', ...(demuxer === 'mov' ? ['-enable_drefs', '0'] : [])];
}

/**
 * ffmpeg options that take no value. Every other option is taken to have one, unless what follows it
 * is an option name (a dash and a letter: no value looks like that, while `-1` or `-0.5` may be a
 * value). So a boolean missing here, or a newer ffmpeg's, never makes the walker read the next
 * option as its value; at worst a file right after it is not seen as an output (and gets no `-threads`).
 */
const FLAGS = new Set([
  'y', 'n', 'nostdin', 'stdin', 'hide_banner', 'nostats', 'stats', 'an', 'vn', 'sn', 'dn', 'shortest', 're', 'copyts',
  'start_at_zero', 'accurate_seek', 'autorotate', 'autoscale', 'benchmark', 'benchmark_all', 'dump', 'hex', 'xerror',
  'ignore_unknown', 'copy_unknown', 'debug_ts', 'vstats', 'fix_sub_duration', 'report', 'find_stream_info', 'bitexact',
  'recast_media', 'psnr', 'qphist', 'copyinkf', 'auto_conversion_filters', 'display_hflip', 'display_vflip', 'fix_sub_duration_heartbeat',
]);

/** A boolean option, by its name without the dash (and without a stream specifier: `display_hflip:v:0`). */
function isFlag(option: string): boolean {
  const name = option.split(':', 1)[0]!;
  return FLAGS.has(name) || (name.startsWith('no') && FLAGS.has(name.slice(2)));
}

const isOptionName = (arg: string | undefined) => arg !== undefined && /^-[A-Za-z]/.test(arg);

/**
 * A tool's ffmpeg arguments as the runner runs them:
 * - `-threads <n>` before every input and every output file, so no decoder or encoder starts more
 *   threads than FFMPEG_THREADS (filter graphs get `-filter_threads` and `-filter_complex_threads`
 *   from the runner's global options);
 * - the upload's input options (inputOptions) right before `-i <its path>`, after any the tool gave,
 *   so they win; and `-t` at the duration limit, unless the tool's own `-t` or `-to` for the upload
 *   already reads no longer (ffmpeg takes the last `-t`, and a `-t` over any `-to`: an unconditional
 *   one would read more than the tool asked for). A tool that reads the upload any other way
 *   (`-i file:<path>`, a `movie=` filter, a concat list) is refused: the upload reaches ffmpeg only
 *   as what it was accepted as.
 * - a concat list (`-f concat -i <list>`, as a split job's join reads its parts) gets `-safe 1
 *   -protocol_whitelist file` right before its `-i`, so that it names only plain local files beside
 *   it; with an upload, the list must be inside the upload's directory (the attempt's scratch
 *   directory). What it names is checked before ffmpeg starts (checkConcatList).
 * Other inputs (a `-f lavfi` source, a tool's own files) are left as they are.
 */
export function ffmpegArgs(args: readonly string[], input: MediaInput | null, threads: number): string[] {
  return walk(args, input, threads).out;
}

/** The concat lists (`-f concat ... -i <list>`) of a tool's ffmpeg arguments, for checkConcatList. */
export function concatLists(args: readonly string[]): string[] {
  return walk(args, null, 1).lists;
}

function walk(args: readonly string[], input: MediaInput | null, threads: number): { out: string[]; lists: string[] } {
  const out: string[] = [];
  const lists: string[] = [];
  const cap = ['-threads', String(threads)];
  /** The timing options given since the last file, that is for the next one. */
  let timing: Timing = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-i') {
      const source = args[i + 1];
      if (source === undefined) throw new ToolError(ErrorCode.ToolFailed, 'ffmpeg was given -i without a file', true);
      let own: string[] = [];
      if (input && source === input.path) own = [...inputOptions(input.demuxer), ...durationCap(timing, input.maxDurationSec)];
      else if (timing['-f'] === 'concat') {
        own = concatListOptions(source, input);
        lists.push(source);
      }
      out.push(...cap, ...own, '-i', source);
      timing = {};
      i++;
    } else if (arg.startsWith('-') && arg.length > 1) {
      out.push(arg);
      if (!isFlag(arg.slice(1)) && i + 1 < args.length && !isOptionName(args[i + 1])) {
        const value = args[++i]!;
        out.push(value);
        if (arg === '-t' || arg === '-to' || arg === '-ss' || arg === '-f') timing[arg] = value;
      }
    } else {
      out.push(...cap, arg); // an output file ('-' is stdout)
      timing = {};
    }
  }
  if (input) {
    const stray = out.findIndex((arg, i) => arg.includes(input.path) && !(arg === input.path && out[i - 1] === '-i'));
    if (stray >= 0) {
      throw new ToolError(ErrorCode.ToolFailed, `a tool may read the upload only as "-i <inputPath>", not through "${out[stray]!.slice(0, 200)}"`, true);
    }
  }
  return { out, lists };
}

/** The options given since the last file (for the next one) that the walker reads. */
type Timing = Partial<Record<'-t' | '-to' | '-ss' | '-f', string>>;

/** What a concat list's `-i` gets: plain local files only. With an upload, the list must be in its directory. */
function concatListOptions(list: string, input: MediaInput | null): string[] {
  if (input && !isInside(dirname(input.path), list)) {
    throw new ToolError(ErrorCode.ToolFailed, `a concat list must be in the job's scratch directory, not "${list.slice(0, 200)}"`, true);
  }
  return ['-safe', '1', '-protocol_whitelist', 'file'];
}

function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !rel.startsWith(sep) && !/^[a-z]+:/i.test(path) && path.startsWith(sep);
}

/** A file a concat list names: a plain file name (letters, digits, `.`, `_`, `-`), so one beside the list. */
const CONCAT_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;

/**
 * The files a concat list names, as paths beside it; or a refusal (TOOL_FAILED, permanent: the
 * tool's fault) for a list with anything but `ffconcat version 1.0`, comments, and `file` lines of
 * plain names each with an optional `duration`. Plain names keep every file in the list's own
 * directory (no `..`, no absolute path, no protocol), and the upload, which is never in a tool's
 * directory, out of it; the runner also checks that none of them is the upload by another name.
 */
export function checkConcatList(text: string, listPath: string): string[] {
  const files: string[] = [];
  for (const [n, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line === 'ffconcat version 1.0') continue;
    const file = /^file\s+(?:'([^']*)'|(\S+))$/.exec(line);
    const name = file ? (file[1] ?? file[2]!) : null;
    if (name !== null && CONCAT_NAME.test(name)) files.push(join(dirname(listPath), name));
    else if (!(/^duration\s+\d+(?:\.\d+)?$/.test(line) && files.length > 0)) {
      throw new ToolError(ErrorCode.ToolFailed, `concat list line ${n + 1} is not a plain file name or a duration: "${line.slice(0, 200)}"`, true);
    }
  }
  return files;
}

/**
 * `-t <limit>` for the upload, or nothing when the tool's own `-t` (a duration) or `-to` (a position,
 * counted from its `-ss`) reads no longer than the limit.
 */
function durationCap(timing: Timing, maxDurationSec: number): string[] {
  const to = timing['-to'] === undefined ? null : seconds(timing['-to']);
  const asked = timing['-t'] !== undefined ? seconds(timing['-t']) : to === null ? null : to - Math.max(0, seconds(timing['-ss'] ?? '0') ?? 0);
  return asked !== null && asked >= 0 && asked <= maxDurationSec ? [] : ['-t', String(maxDurationSec)];
}

/** An ffmpeg time duration (`[-][HH:]MM:SS[.m...]` or `[-]S+[.m...][s|ms|us]`) in seconds; null for anything else. */
function seconds(text: string): number | null {
  const clock = /^(-?)(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d*)?)$/.exec(text);
  if (clock) return (clock[1] ? -1 : 1) * (Number(clock[2] ?? 0) * 3600 + Number(clock[3]) * 60 + Number(clock[4]));
  const plain = /^(-?(?:\d+(?:\.\d*)?|\.\d+))(s|ms|us)?$/.exec(text);
  if (!plain) return null;
  return Number(plain[1]) / (plain[2] === 'ms' ? 1e3 : plain[2] === 'us' ? 1e6 : 1);
}
