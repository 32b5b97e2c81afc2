import { describe, expect, it } from '@jest/globals';
import { MediaStructureError, SNIFF_BYTES, sniffContainer, structureCheckFor, type ContainerKind } from './media-sniffer.js';

const bytes = (...parts: Array<string | number[] | Uint8Array>) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
const u32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const box = (type: string, payload = 0) => bytes(u32(8 + payload), type, new Uint8Array(payload));

/** Runs a whole file through the structure check in chunks of `chunk` bytes. */
function check(kind: ContainerKind, file: Uint8Array, chunk = 7): void {
  const walk = structureCheckFor(kind);
  for (let at = 0; at < file.length; at += chunk) walk.push(file.subarray(at, at + chunk));
  walk.finish();
}

/** A 188-byte transport packet: header (sync byte, PID, payload unit start) and a payload padded with 0xff. */
const tsPacket = (pid: number, payload: number[], unitStart = true) => {
  const packet = new Uint8Array(188).fill(0xff);
  packet.set([0x47, (unitStart ? 0x40 : 0) | (pid >> 8), pid & 0xff, 0x10, ...payload]);
  return packet;
};
/** The program association table ffmpeg writes (program 1, PMT on PID 0x1000), with its CRC-32. */
const PAT = [0x00, 0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xf0, 0x00, 0x2a, 0xb1, 0x04, 0xb2];
const sdt = tsPacket(0x11, [0x00, 0x42]);
const video = tsPacket(0x100, [0x00, 0x00, 0x01, 0xe0]);
/** A transport stream's first packets; `m2ts` puts a 4-byte timestamp before each (192-byte packets). */
const stream = (packets: Uint8Array[], m2ts = false) => bytes(...packets.flatMap((p) => (m2ts ? [new Uint8Array(4), p] : [p])));

/** A DASH manifest, HLS playlist or ffconcat list that hides a 0x47 every `packet` bytes (from `first`) in a comment. */
function disguisedManifest(kind: 'dash' | 'hls' | 'ffconcat', packet: number, first: number): Buffer {
  const opening = { dash: '<?xml version="1.0"?><!--', hls: '#EXTM3U\n#', ffconcat: 'ffconcat version 1.0\n#' }[kind];
  const closing = {
    dash: '-->\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011"><Period><AdaptationSet><Representation id="1" bandwidth="1"><BaseURL>http://127.0.0.1:9/x.mp4</BaseURL></Representation></AdaptationSet></Period></MPD>\n',
    hls: '\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:9/x.ts\n#EXT-X-ENDLIST\n',
    ffconcat: '\nfile /etc/hostname\n',
  }[kind];
  const head = Buffer.alloc(packet * 8, ' ');
  head.write(opening, 0, 'latin1');
  for (let at = first; at < head.length; at += packet) head[at] = 0x47;
  return Buffer.concat([head, Buffer.from(closing, 'latin1')]);
}

describe('sniffContainer', () => {
  const ts = stream([sdt, tsPacket(0, PAT), video]);
  const m2ts = stream([sdt, tsPacket(0, PAT), video], true);

  it.each([
    ['an MP4 (ftyp isom)', bytes(u32(20), 'ftypisom', [0, 0, 2, 0], 'isom'), 'mp4', 'video/mp4'],
    ['a MOV (ftyp qt)', bytes(u32(20), 'ftypqt  ', [0, 0, 0, 0], 'qt  '), 'quicktime', 'video/quicktime'],
    ['an old QuickTime file that starts with moov', bytes(box('moov', 8)), 'quicktime', 'video/quicktime'],
    ['a WebM', bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x82, 0x84], 'webm', [0x42, 0x87]), 'webm', 'video/webm'],
    ['a Matroska file', bytes([0x1a, 0x45, 0xdf, 0xa3, 0xa3, 0x42, 0x82, 0x88], 'matroska'), 'matroska', 'video/x-matroska'],
    ['an AVI', bytes('RIFF', [4, 0, 0, 0], 'AVI LIST'), 'avi', 'video/x-msvideo'],
    ['an MPEG transport stream', ts, 'mpeg-ts', 'video/mp2t'],
    ['an M2TS (192-byte packets)', m2ts, 'mpeg-ts', 'video/mp2t'],
  ])('recognises %s', (_, head, kind, contentType) => {
    expect(sniffContainer(head)).toEqual({ kind, contentType });
  });

  const oneTsPacket = stream([tsPacket(0, PAT)]);
  const brokenTs = bytes(stream([tsPacket(0, PAT), video]), new Uint8Array(188));
  const badCrc = [...PAT.slice(0, -1), 0xb3];
  it.each([
    ['text', bytes('this is not a video\n')],
    ['a PNG', bytes([0x89], 'PNG\r\n\x1a\n', new Uint8Array(16))],
    ['a WAV (RIFF but not AVI)', bytes('RIFF', [4, 0, 0, 0], 'WAVEfmt ')],
    ['JSON', bytes('{"ftyp":"isom"}')],
    ['a ZIP', bytes('PK\x03\x04', new Uint8Array(20))],
    ['an ftyp box with an impossible size', bytes(u32(4), 'ftypisom', new Uint8Array(8))],
    ['one lone sync byte', oneTsPacket],
    ['sync bytes that stop', brokenTs],
    ['three bytes', bytes('abc')],
    ['sync bytes every 188 bytes and nothing else', bytes(...Array.from({ length: 4 }, () => bytes([0x47], new Uint8Array(187))))],
    ['sync bytes every 192 bytes (after 4) and nothing else', bytes(...Array.from({ length: 4 }, () => bytes(new Uint8Array(4), [0x47], new Uint8Array(187))))],
    ['transport packets with no PAT', stream([sdt, video, video])],
    ['a PAT whose CRC is wrong', stream([tsPacket(0, badCrc), video])],
    ['a PAT section on another PID', stream([tsPacket(0x20, PAT), video])],
    ['a table on PID 0 that is not a PAT (table_id 2)', stream([tsPacket(0, [0x00, 0x02, ...PAT.slice(2)]), video])],
    ['a PAT packet that does not start a section', stream([tsPacket(0, PAT, false), video])],
    ['a PAT past the sniffed window', stream([...Array.from({ length: 70 }, () => video), tsPacket(0, PAT)])],
    ['a DASH manifest with a 0x47 every 188 bytes in a comment', disguisedManifest('dash', 188, 0)],
    ['a DASH manifest with a 0x47 every 192 bytes (M2TS) in a comment', disguisedManifest('dash', 192, 4)],
    // A playlist must start with its own magic (#EXTM3U, ffconcat), so it can never carry a sync byte at 0 or 4.
    ['an HLS playlist with a 0x47 every 188 bytes in a comment', disguisedManifest('hls', 188, 188)],
    ['an ffconcat list with a 0x47 every 188 bytes in a comment', disguisedManifest('ffconcat', 188, 188)],
    ['nothing', new Uint8Array(0)],
  ])('refuses %s', (_, head) => {
    // What the upload guard hands over: the first SNIFF_BYTES.
    expect(sniffContainer(head.subarray(0, SNIFF_BYTES))).toBeNull();
  });
});

describe('structure checks', () => {
  const ftyp = box('ftyp', 12);
  const whole = bytes(ftyp, box('moov', 40), box('mdat', 300));

  it('passes MP4 files whose boxes tile the file, in any chunking', () => {
    for (const chunk of [1, 3, 8, 64, 10_000]) expect(() => check('mp4', whole, chunk)).not.toThrow();
    expect(() => check('mp4', bytes(ftyp, box('mdat', 300), box('moov', 40)))).not.toThrow(); // moov at the end
    expect(() => check('mp4', bytes(ftyp, box('moov', 40), u32(0), 'mdat', new Uint8Array(99)))).not.toThrow(); // a box to the end of file
    expect(() => check('mp4', bytes(ftyp, box('moov', 40), u32(1), 'mdat', [0, 0, 0, 0], u32(116), new Uint8Array(100)))).not.toThrow(); // 64-bit size
    expect(() => check('mp4', bytes(whole, new Uint8Array(5)))).not.toThrow(); // trailing padding
  });

  it.each([
    ['cut inside mdat', whole.subarray(0, whole.length - 1), /truncated/],
    ['cut inside a 64-bit box header', bytes(ftyp, box('moov', 40), u32(1), 'mdat', [0, 0, 0]), /truncated/],
    ['without moov', bytes(ftyp, box('mdat', 30)), /no "moov"/],
    ['with a box that is shorter than its header', bytes(ftyp, u32(1), 'moov', [0, 0, 0, 0, 0, 0, 0, 3]), /impossible size/],
  ])('refuses an MP4 %s', (_, file, message) => {
    expect(() => check('mp4', file)).toThrow(MediaStructureError);
    expect(() => check('mp4', file)).toThrow(message);
  });

  it('refuses an AVI shorter than its RIFF chunk says, and passes a whole one', () => {
    const avi = bytes('RIFF', [20, 0, 0, 0], 'AVI ', new Uint8Array(16));
    expect(() => check('avi', avi)).not.toThrow();
    expect(() => check('avi', avi.subarray(0, 20))).toThrow(/truncated/);
  });
});
