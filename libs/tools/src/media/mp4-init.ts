/** What an H.264 track's initialization segment says about its video, for an HLS master playlist. */
export interface AvcTrackInfo {
  /** Width and height of the coded pictures (the `avc1` sample entry). */
  width: number;
  height: number;
  /** The RFC 6381 codec string, `avc1.PPCCLL`: profile, constraint flags and level from the `avcC` record. */
  codecs: string;
}

/** Boxes that hold other boxes on the way from the file's top to the sample description. */
const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl']);

/**
 * Reads the first `avc1` (or `avc3`) sample entry of an ISO BMFF initialization segment (ftyp + moov,
 * as ffmpeg's fragmented MP4 writes it): moov/trak/mdia/minf/stbl/stsd/avc1/avcC. Null when there is
 * none (an audio track, or not an MP4). The walk follows box sizes, so a brand `avc1` in `ftyp` or
 * bytes inside media data are never mistaken for the entry.
 */
export function readAvcTrack(init: Uint8Array): AvcTrackInfo | null {
  const view = new DataView(init.buffer, init.byteOffset, init.byteLength);
  const type = (at: number) => String.fromCharCode(init[at + 4]!, init[at + 5]!, init[at + 6]!, init[at + 7]!);
  const walk = (start: number, end: number): AvcTrackInfo | null => {
    for (let at = start; at + 8 <= end; ) {
      const size = view.getUint32(at);
      if (size < 8 || at + size > end) return null;
      const name = type(at);
      if (CONTAINERS.has(name)) {
        const found = walk(at + 8, at + size);
        if (found) return found;
      } else if (name === 'stsd') {
        // A full box (version and flags), then the entry count, then the entries.
        const found = sampleEntries(at + 16, at + size);
        if (found) return found;
      }
      at += size;
    }
    return null;
  };
  const sampleEntries = (start: number, end: number): AvcTrackInfo | null => {
    for (let at = start; at + 8 <= end; ) {
      const size = view.getUint32(at);
      if (size < 8 || at + size > end) return null;
      const name = type(at);
      // A visual sample entry: 6 reserved bytes, data reference index (2), 16 bytes of pre-defined
      // and reserved fields, width (2), height (2), then 50 more bytes of fixed fields before its boxes.
      if ((name === 'avc1' || name === 'avc3') && size >= 8 + 78) {
        const width = view.getUint16(at + 8 + 24);
        const height = view.getUint16(at + 8 + 26);
        const codecs = avcCodecs(at + 8 + 78, at + size);
        if (codecs) return { width, height, codecs: `${name}.${codecs}` };
      }
      at += size;
    }
    return null;
  };
  const avcCodecs = (start: number, end: number): string | null => {
    for (let at = start; at + 8 <= end; ) {
      const size = view.getUint32(at);
      if (size < 8 || at + size > end) return null;
      // The AVCDecoderConfigurationRecord: version, profile, constraint flags, level.
      if (type(at) === 'avcC' && size >= 8 + 4) return [1, 2, 3].map((i) => init[at + 8 + i]!.toString(16).padStart(2, '0')).join('');
      at += size;
    }
    return null;
  };
  return walk(0, init.byteLength);
}
