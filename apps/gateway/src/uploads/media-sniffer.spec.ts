import { describe, expect, it } from '@jest/globals';
import { MediaStructureError, sniffContainer, structureCheckFor, type ContainerKind } from './media-sniffer.js';

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

describe('sniffContainer', () => {
  const ts = new Uint8Array(188 * 3);
  for (let i = 0; i < 3; i++) ts[i * 188] = 0x47;
  const m2ts = new Uint8Array(192 * 3);
  for (let i = 0; i < 3; i++) m2ts[i * 192 + 4] = 0x47;

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

  const oneTsPacket = new Uint8Array(188);
  oneTsPacket[0] = 0x47;
  const brokenTs = new Uint8Array(188 * 3);
  brokenTs[0] = 0x47;
  brokenTs[188] = 0x47;
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
    ['nothing', new Uint8Array(0)],
  ])('refuses %s', (_, head) => {
    expect(sniffContainer(head)).toBeNull();
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
