/**
 * What an upload is, from its first bytes, before anything is stored or published. Framewire takes
 * the containers ffmpeg reads for video work: ISO BMFF (MP4, MOV, 3GP; `ftyp`, or a classic QuickTime
 * atom first), Matroska/WebM (EBML), AVI (`RIFF....AVI `) and MPEG transport streams (see
 * isTransportStream: packets and a PAT, not just a byte that recurs). The client's filename and
 * Content-Type are not trusted. What an upload is sniffed as is also what the workers read it as
 * (ffmpeg's `-f`), so a manifest or playlist that got past here would still not be opened as one.
 *
 * Where a container states its own length (MP4 boxes, the AVI RIFF chunk), a structure check follows
 * the upload to its end, so a truncated file is refused too, not just a foreign one.
 */

export type ContainerKind = 'mp4' | 'quicktime' | 'matroska' | 'webm' | 'avi' | 'mpeg-ts';

export interface Sniffed {
  kind: ContainerKind;
  /** The canonical media type, stored with the upload in place of what the client claimed. */
  contentType: string;
}

/**
 * How many leading bytes `sniffContainer` wants (it decides on fewer when the file is shorter): 64
 * packets of an M2TS stream, the window in which a transport stream must show its structure.
 */
export const SNIFF_BYTES = 64 * 192;

const CONTENT_TYPES: Record<ContainerKind, string> = {
  mp4: 'video/mp4',
  quicktime: 'video/quicktime',
  matroska: 'video/x-matroska',
  webm: 'video/webm',
  avi: 'video/x-msvideo',
  'mpeg-ts': 'video/mp2t',
};

/** Top-level atoms that may open a QuickTime file written before `ftyp` existed. */
const QUICKTIME_FIRST_ATOMS = new Set(['moov', 'mdat', 'wide', 'free', 'skip', 'pnot']);
const TS_PACKET = 188;
const M2TS_PACKET = 192;

const ascii = (bytes: Uint8Array, from: number, to: number) => Buffer.from(bytes.subarray(from, to)).toString('latin1');

/** The container of a file that starts with `head`, or null when it is none Framewire accepts. */
export function sniffContainer(head: Uint8Array): Sniffed | null {
  const kind = detect(head);
  return kind ? { kind, contentType: CONTENT_TYPES[kind] } : null;
}

function detect(head: Uint8Array): ContainerKind | null {
  if (head.length >= 12) {
    const view = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
    const size = view.readUInt32BE(0);
    const type = ascii(head, 4, 8);
    if (type === 'ftyp' && size >= 16) return ascii(head, 8, 12) === 'qt  ' ? 'quicktime' : 'mp4';
    if (QUICKTIME_FIRST_ATOMS.has(type) && (size === 0 || size === 1 || size >= 8)) return 'quicktime';
    if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'AVI ') return 'avi';
  }
  if (head.length >= 4 && head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) {
    // The EBML header names its DocType within the first few dozen bytes.
    return ascii(head, 0, Math.min(head.length, 64)).includes('webm') ? 'webm' : 'matroska';
  }
  if (isTransportStream(head, 0, TS_PACKET)) return 'mpeg-ts';
  if (isTransportStream(head, 4, M2TS_PACKET)) return 'mpeg-ts';
  return null;
}

/**
 * An MPEG transport stream, by its structure over the whole head (up to SNIFF_BYTES): the sync byte
 * 0x47 at every packet start (`offset` is 4 for M2TS, whose packets begin with a 4-byte timestamp),
 * two packets at least, and among them a program association table, as every stream carries from
 * its start: a packet on PID 0 that starts a section with table_id 0, a well-formed section length
 * and a matching CRC-32. Text that merely has a 0x47 every 188 bytes (a manifest with them in a
 * comment) has no such table.
 */
function isTransportStream(head: Uint8Array, offset: number, packet: number): boolean {
  let packets = 0;
  let pat = false;
  for (let at = offset; at < head.length; at += packet) {
    if (head[at] !== 0x47) return false;
    if (at + TS_PACKET > head.length) break; // a partial packet at the end of the head
    packets++;
    pat ||= isPatPacket(head.subarray(at, at + TS_PACKET));
  }
  return packets >= 2 && pat;
}

/** A 188-byte packet that carries the start of a valid program association table (ISO/IEC 13818-1 2.4.4.3). */
function isPatPacket(p: Uint8Array): boolean {
  const transportError = (p[1]! & 0x80) !== 0;
  const unitStart = (p[1]! & 0x40) !== 0;
  const pid = ((p[1]! & 0x1f) << 8) | p[2]!;
  const scrambled = (p[3]! & 0xc0) !== 0;
  const adaptation = (p[3]! >> 4) & 0x3;
  if (transportError || !unitStart || pid !== 0 || scrambled || (adaptation & 0x1) === 0) return false;
  let at = 4;
  if (adaptation === 0x3) at += 1 + p[4]!;
  if (at >= p.length) return false;
  at += 1 + p[at]!; // pointer_field
  if (at + 3 > p.length || p[at] !== 0x00) return false; // table_id 0: program_association_section
  const syntax = (p[at + 1]! & 0x80) !== 0;
  const zero = (p[at + 1]! & 0x40) === 0;
  const length = ((p[at + 1]! & 0x0f) << 8) | p[at + 2]!;
  // 5 bytes of header after the length, 4 per program, 4 of CRC; within the packet.
  if (!syntax || !zero || length < 9 || length > 1021 || (length - 9) % 4 !== 0 || at + 3 + length > p.length) return false;
  return crc32Mpeg2(p.subarray(at, at + 3 + length)) === 0;
}

/** CRC-32/MPEG-2 (polynomial 0x04C11DB7, no reflection, no final xor): 0 over a section with its CRC. */
function crc32Mpeg2(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte << 24;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
  }
  return crc >>> 0;
}

/** Why an upload that looked like a container is not a whole one. */
export class MediaStructureError extends Error {
  override readonly name = 'MediaStructureError';
}

/** Follows an upload chunk by chunk, in constant memory; `finish()` throws when the file is cut short. */
export interface StructureCheck {
  push(chunk: Uint8Array): void;
  finish(): void;
}

export function structureCheckFor(kind: ContainerKind): StructureCheck {
  switch (kind) {
    case 'mp4':
    case 'quicktime':
      return new IsoBoxWalk();
    case 'avi':
      return new RiffLength();
    case 'matroska':
    case 'webm':
    case 'mpeg-ts':
      // Matroska may declare an unknown segment size (live recordings), and a transport stream has no
      // length at all: neither can tell a cut-off file from a whole one, so the worker's probe decides.
      return { push: () => undefined, finish: () => undefined };
    default: {
      const unreachable: never = kind;
      throw new Error(`no structure check for ${String(unreachable)}`);
    }
  }
}

const isPrintableType = (bytes: Uint8Array) => bytes.every((b) => b >= 0x20 && b <= 0x7e);

/**
 * Walks the top-level boxes of an ISO BMFF file: each box header gives its size, so the boxes must
 * tile the file exactly, and a file that ends inside a box was truncated. A playable file has a
 * `moov` box (at the start for fast-start files, at the end for most others). Bytes after the last
 * box that do not form a box header are tolerated as trailing padding.
 */
class IsoBoxWalk implements StructureCheck {
  private total = 0;
  private nextBoxAt = 0;
  private header = Buffer.alloc(0);
  private lastType = '';
  private sawMoov = false;
  /** The walk ended: a box that runs to the end of the file, or trailing bytes that are not a box. */
  private stopped = false;

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length && !this.stopped) {
      const at = this.total + i;
      if (at < this.nextBoxAt) {
        i += Math.min(chunk.length - i, this.nextBoxAt - at);
        continue;
      }
      const want = this.header.length < 8 ? 8 : 16;
      const take = Math.min(want - this.header.length, chunk.length - i);
      this.header = Buffer.concat([this.header, chunk.subarray(i, i + take)]);
      i += take;
      if (this.header.length >= 8) this.readHeader();
    }
    this.total += chunk.length;
  }

  private readHeader(): void {
    const size32 = this.header.readUInt32BE(0);
    const typeBytes = this.header.subarray(4, 8);
    if (!isPrintableType(typeBytes) || (size32 > 1 && size32 < 8)) {
      if (this.nextBoxAt === 0) throw new MediaStructureError('the file does not start with a valid MP4/MOV box');
      this.stopped = true; // trailing padding
      return;
    }
    if (size32 === 1 && this.header.length < 16) return; // a 64-bit size follows
    const type = typeBytes.toString('latin1');
    this.lastType = type;
    if (type === 'moov') this.sawMoov = true;
    if (size32 === 0) {
      this.stopped = true; // the box runs to the end of the file
    } else {
      const size = size32 === 1 ? Number(this.header.readBigUInt64BE(8)) : size32;
      if (size < this.header.length) throw new MediaStructureError(`the MP4/MOV box "${type}" has an impossible size ${size}`);
      this.nextBoxAt += size;
    }
    this.header = Buffer.alloc(0);
  }

  finish(): void {
    // Fewer than 8 bytes after the last whole box cannot be a box: padding, like any other trailing bytes.
    const partialHeader = this.header.length >= 8;
    if (!this.stopped && (partialHeader || this.nextBoxAt > this.total)) {
      throw new MediaStructureError(
        `the MP4/MOV file is truncated: its "${this.lastType}" box needs ${Math.max(this.nextBoxAt, this.total + 1)} bytes but the upload ended after ${this.total}`,
      );
    }
    if (!this.sawMoov) throw new MediaStructureError('the MP4/MOV file has no "moov" box: it is incomplete (an interrupted recording or upload)');
  }
}

/** An AVI file's RIFF chunk states its length; a file shorter than that was truncated. */
class RiffLength implements StructureCheck {
  private total = 0;
  private head = Buffer.alloc(0);

  push(chunk: Uint8Array): void {
    if (this.head.length < 8) this.head = Buffer.concat([this.head, chunk.subarray(0, 8 - this.head.length)]);
    this.total += chunk.length;
  }

  finish(): void {
    if (this.head.length < 8) throw new MediaStructureError('the AVI file is truncated');
    const riffSize = this.head.readUInt32LE(4);
    // 0 means "not filled in" (some streaming writers); OpenDML files continue past the first chunk.
    if (riffSize > 0 && this.total < riffSize + 8) {
      throw new MediaStructureError(`the AVI file is truncated: its RIFF chunk needs ${riffSize + 8} bytes but the upload ended after ${this.total}`);
    }
  }
}
