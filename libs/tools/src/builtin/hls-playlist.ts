import { parse, types } from 'hls-parser';
import { ErrorCode } from '@app/contracts';
import { ToolError } from '../tool.js';

/** A byte range of a file: `length` bytes from `offset`. */
export interface ByteRange {
  offset: number;
  length: number;
}

/** What the master playlist needs from one media playlist of byte ranges of a single file. */
export interface MediaPlaylistSummary {
  /** The one file every segment (and the initialization section) is a range of. */
  file: string;
  /** The initialization section (ftyp + moov), EXT-X-MAP's BYTERANGE. */
  init: ByteRange;
  segmentCount: number;
  /** EXTINF of each segment, in order. */
  durations: number[];
  durationSec: number;
  /** Highest bit rate of one segment (its bytes × 8 / its EXTINF), in bits per second, rounded up. */
  peakBandwidth: number;
  /** All segment bytes × 8 / the summed EXTINF, in bits per second, rounded up. */
  averageBandwidth: number;
}

/**
 * Reads a VOD media playlist as ffmpeg's HLS muxer writes it with `single_file` and fMP4 segments:
 * an EXT-X-MAP with a BYTERANGE, then segments that are each an EXT-X-BYTERANGE of the same file.
 * Parsed by hls-parser; anything else (several files, no byte ranges, no end) is refused, since the
 * tool would then have made something other than it describes.
 */
export function readMediaPlaylist(text: string): MediaPlaylistSummary {
  let playlist: ReturnType<typeof parse>;
  try {
    playlist = parse(text);
  } catch (error) {
    throw failed(`the media playlist does not parse: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!(playlist instanceof types.MediaPlaylist)) throw failed('expected a media playlist, got a master playlist');
  if (!playlist.endlist) throw failed('the media playlist has no EXT-X-ENDLIST');
  const segments = playlist.segments;
  const first = segments[0];
  if (!first) throw failed('the media playlist has no segment');
  const file = first.uri;
  const map = first.map;
  if (!map?.byterange || map.uri !== file) throw failed('the media playlist has no EXT-X-MAP with a BYTERANGE of its file');
  const init = { offset: map.byterange.offset ?? 0, length: map.byterange.length };
  let bytes = 0;
  let durationSec = 0;
  let peak = 0;
  const durations: number[] = [];
  for (const segment of segments) {
    if (segment.uri !== file) throw failed(`the media playlist names more than one file (${file}, ${segment.uri})`);
    if (!segment.byterange) throw failed('a segment of the media playlist has no EXT-X-BYTERANGE');
    const { length } = segment.byterange;
    bytes += length;
    durationSec += segment.duration;
    durations.push(segment.duration);
    if (segment.duration > 0) peak = Math.max(peak, (length * 8) / segment.duration);
  }
  return {
    file,
    init,
    segmentCount: segments.length,
    durations,
    durationSec,
    peakBandwidth: Math.ceil(peak),
    averageBandwidth: durationSec > 0 ? Math.ceil((bytes * 8) / durationSec) : 0,
  };
}

export interface MasterVariant {
  /** The media playlist, a plain relative name. */
  playlist: string;
  bandwidth: number;
  averageBandwidth: number;
  width: number;
  height: number;
  /** Codecs of the variant as played: its video's and, with an audio group, the audio's. */
  codecs: string;
  frameRate: number | null;
}

export interface MasterAudio {
  groupId: string;
  name: string;
  playlist: string;
  channels: number | null;
}

/**
 * The master playlist (version 7: fMP4 segments and byte ranges): the audio rendition as an
 * EXT-X-MEDIA that every variant names with AUDIO, then the video variants by bandwidth, lowest
 * first. BANDWIDTH and AVERAGE-BANDWIDTH are what the caller measured (video plus audio).
 */
export function masterPlaylist(variants: readonly MasterVariant[], audio: MasterAudio | null): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS'];
  if (audio) {
    const channels = audio.channels ? `,CHANNELS="${audio.channels}"` : '';
    lines.push(`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="${quoted(audio.groupId)}",NAME="${quoted(audio.name)}",DEFAULT=YES,AUTOSELECT=YES${channels},URI="${quoted(audio.playlist)}"`);
  }
  const ordered = [...variants].sort((a, b) => a.bandwidth - b.bandwidth || a.height - b.height);
  for (const v of ordered) {
    const attributes = [
      `BANDWIDTH=${Math.ceil(v.bandwidth)}`,
      `AVERAGE-BANDWIDTH=${Math.ceil(v.averageBandwidth)}`,
      `RESOLUTION=${v.width}x${v.height}`,
      `CODECS="${quoted(v.codecs)}"`,
      ...(v.frameRate ? [`FRAME-RATE=${v.frameRate.toFixed(3)}`] : []),
      ...(audio ? [`AUDIO="${quoted(audio.groupId)}"`] : []),
    ];
    lines.push(`#EXT-X-STREAM-INF:${attributes.join(',')}`, v.playlist);
  }
  return lines.join('\n') + '\n';
}

/** A quoted-string attribute may hold neither a double quote nor a line break. */
function quoted(value: string): string {
  if (/["\r\n]/.test(value)) throw new Error(`an HLS quoted-string cannot hold ${JSON.stringify(value)}`);
  return value;
}

function failed(message: string): ToolError {
  return new ToolError(ErrorCode.ToolFailed, `hls: ${message}`, false);
}
