import { describe, expect, it } from '@jest/globals';
import { parse, types } from 'hls-parser';
import { readAvcTrack } from '../media/mp4-init.js';
import { isoBox } from '../../../../test/support/videos.js';
import { masterPlaylist, readMediaPlaylist } from './hls-playlist.js';
import { frameRate, hlsCommand, hlsJoinCommand, hlsParams, hlsPartCommand, maxrateKbps, renditionHeights } from './hls.tool.js';

/** A media playlist as ffmpeg 5.1's HLS muxer writes it with single_file and fMP4 segments. */
const VIDEO_PLAYLIST = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="hls-240p.mp4",BYTERANGE="830@0"
#EXTINF:4.000000,
#EXT-X-BYTERANGE:21423@830
hls-240p.mp4
#EXTINF:4.000000,
#EXT-X-BYTERANGE:30000@22253
hls-240p.mp4
#EXTINF:2.000000,
#EXT-X-BYTERANGE:10000@52253
hls-240p.mp4
#EXT-X-ENDLIST
`;

describe('an HLS media playlist of byte ranges', () => {
  it('gives its file, its init section, its segments and their peak and average bit rates', () => {
    const read = readMediaPlaylist(VIDEO_PLAYLIST);
    expect(read).toEqual({
      file: 'hls-240p.mp4',
      init: { offset: 0, length: 830 },
      segmentCount: 3,
      durations: [4, 4, 2],
      durationSec: 10,
      // 30000 bytes in 4 s is the highest rate; the average leaves out the init section.
      peakBandwidth: 60000,
      averageBandwidth: Math.ceil(((21423 + 30000 + 10000) * 8) / 10),
    });
  });

  it('is refused when it is not one file in byte ranges, or is not finished', () => {
    expect(() => readMediaPlaylist(VIDEO_PLAYLIST.replace('#EXT-X-ENDLIST\n', ''))).toThrow(/ENDLIST/);
    expect(() => readMediaPlaylist(VIDEO_PLAYLIST.replace(/#EXT-X-BYTERANGE:10000@52253\nhls-240p.mp4/, 'other.mp4'))).toThrow(/more than one file|BYTERANGE/);
    expect(() => readMediaPlaylist(VIDEO_PLAYLIST.replace(',BYTERANGE="830@0"', ''))).toThrow(/EXT-X-MAP/);
    expect(() => readMediaPlaylist('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n')).toThrow(/master/);
  });
});

describe('the HLS master playlist', () => {
  const variants = [
    { playlist: 'hls-720p.m3u8', bandwidth: 3_000_000, averageBandwidth: 2_000_000, width: 1280, height: 720, codecs: 'avc1.64001f,mp4a.40.2', frameRate: 29.97 },
    { playlist: 'hls-240p.m3u8', bandwidth: 400_000.2, averageBandwidth: 300_000, width: 426, height: 240, codecs: 'avc1.640015,mp4a.40.2', frameRate: 29.97 },
  ];

  it('lists the audio rendition once and the video variants by bandwidth, each naming the audio group', () => {
    const text = masterPlaylist(variants, { groupId: 'audio', name: 'audio', playlist: 'hls-audio.m3u8', channels: 2 });
    expect(text).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:7',
        '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="hls-audio.m3u8"',
        '#EXT-X-STREAM-INF:BANDWIDTH=400001,AVERAGE-BANDWIDTH=300000,RESOLUTION=426x240,CODECS="avc1.640015,mp4a.40.2",FRAME-RATE=29.970,AUDIO="audio"',
        'hls-240p.m3u8',
        '#EXT-X-STREAM-INF:BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2000000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",FRAME-RATE=29.970,AUDIO="audio"',
        'hls-720p.m3u8',
        '',
      ].join('\n'),
    );
    // An independent parser reads it as written.
    const parsed = parse(text);
    expect(parsed).toBeInstanceOf(types.MasterPlaylist);
    const master = parsed as InstanceType<typeof types.MasterPlaylist>;
    expect(master.variants.map((v) => [v.uri, v.bandwidth, v.averageBandwidth, v.resolution, v.frameRate, v.audio.map((a) => [a.groupId, a.uri, a.isDefault, a.autoselect])])).toEqual([
      ['hls-240p.m3u8', 400001, 300000, { width: 426, height: 240 }, 29.97, [['audio', 'hls-audio.m3u8', true, true]]],
      ['hls-720p.m3u8', 3000000, 2000000, { width: 1280, height: 720 }, 29.97, [['audio', 'hls-audio.m3u8', true, true]]],
    ]);
  });

  it('has no audio rendition and no AUDIO attribute for a silent video, and no FRAME-RATE when it is unknown', () => {
    const text = masterPlaylist([{ ...variants[0]!, codecs: 'avc1.64001f', frameRate: null }], null);
    expect(text).not.toMatch(/EXT-X-MEDIA|AUDIO=|FRAME-RATE/);
    expect(text).toContain('#EXT-X-STREAM-INF:BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2000000,RESOLUTION=1280x720,CODECS="avc1.64001f"\nhls-720p.m3u8\n');
  });
});

describe('the HLS ladder', () => {
  it('caps each rendition at the ladder\'s bit rate, between its heights linearly and beyond them by pixel count', () => {
    expect([240, 360, 480, 720, 1080].map(maxrateKbps)).toEqual([400, 800, 1400, 2800, 5000]);
    expect(maxrateKbps(540)).toBe(1750);
    expect(maxrateKbps(144)).toBe(144);
    expect(maxrateKbps(2160)).toBe(20000);
  });

  it('drops the renditions above the source, and makes one at the source height when none is left', () => {
    expect(renditionHeights([1080, 240, 720, 360, 480], 720)).toEqual([240, 360, 480, 720]);
    expect(renditionHeights([240, 360], 240)).toEqual([240]);
    expect(renditionHeights([240, 360], 239)).toEqual([238]);
    expect(renditionHeights([145, 144], 1080)).toEqual([144]);
  });

  it('states the frame rate ffmpeg made (frames over length), or the source\'s when it did not say', () => {
    expect(frameRate(360, 12.012, 29.97)).toBe(29.97);
    expect(frameRate(180, 6, 25)).toBe(30);
    expect(frameRate(null, 6, 23.976)).toBe(23.976);
    expect(frameRate(null, 6, null)).toBeNull();
  });

  it('takes unique heights from 144 to 4320, one to eight of them', () => {
    expect(hlsParams.parse({})).toEqual({ renditions: [240, 360, 480, 720, 1080], segment_seconds: 4, preset: 'veryfast', crf: 23, audio_bitrate_kbps: 128 });
    for (const renditions of [[], [240, 240], [100], [4322], [1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => 144 + 2 * i)]) {
      expect(hlsParams.safeParse({ renditions }).success).toBe(false);
    }
    expect(hlsParams.safeParse({ segment_seconds: 21 }).success).toBe(false);
  });

  it('is one ffmpeg command: one decode split into every rendition, key frames forced at each segment boundary, one file per rendition', () => {
    const { args, renditions, audio } = hlsCommand('/in/video', '/work', hlsParams.parse({ renditions: [360, 240, 1080] }), { displayHeight: 720, fps: 25, hasAudio: true });
    expect(renditions.map((r) => [r.height, r.maxrateKbps, r.playlist, r.file])).toEqual([[240, 400, 'hls-240p.m3u8', 'hls-240p.mp4'], [360, 800, 'hls-360p.m3u8', 'hls-360p.mp4']]);
    expect(audio).toEqual({ playlist: 'hls-audio.m3u8', file: 'hls-audio.mp4' });
    expect(args.filter((a) => a === '-i')).toHaveLength(1);
    expect(args[args.indexOf('-filter_complex') + 1]).toBe('[0:v:0]scale=trunc(iw*sar/2)*2:ih,setsar=1,split=2[s0][s1];[s0]scale=-2:240[v0];[s1]scale=-2:360[v1]');
    expect(args[args.indexOf('-force_key_frames') + 1]).toBe('expr:gte(t,n_forced*4)');
    expect(args[args.indexOf('-g') + 1]).toBe('200');
    expect(args[args.indexOf('-fps_mode') + 1]).toBe('cfr');
    expect(args[args.indexOf('-var_stream_map') + 1]).toBe('v:0,agroup:audio,name:240p v:1,agroup:audio,name:360p a:0,agroup:audio,name:audio');
    expect(args.slice(args.indexOf('-maxrate:v:1'), args.indexOf('-maxrate:v:1') + 4)).toEqual(['-maxrate:v:1', '800k', '-bufsize:v:1', '1600k']);
    expect(args.at(-1)).toBe('/work/hls-%v.m3u8');
    const silent = hlsCommand('/in/video', '/work', hlsParams.parse({}), { displayHeight: 200, fps: null, hasAudio: false });
    expect(silent.audio).toBeNull();
    expect(silent.args).not.toContain('0:a:0');
    expect(silent.args[silent.args.indexOf('-var_stream_map') + 1]).toBe('v:0,name:200p');
  });
});

describe('the hls commands of a split run', () => {
  const params = hlsParams.parse({ renditions: [240, 360], segment_seconds: 2, split_seconds: 4 });
  const source = { displayHeight: 480, fps: 25, hasAudio: true };

  it('takes split_seconds from 2 to 3600, and leaves it out unless asked', () => {
    expect(params.split_seconds).toBe(4);
    expect('split_seconds' in hlsParams.parse({})).toBe(false);
    for (const split_seconds of [1, 3601, 2.5]) expect(hlsParams.safeParse({ split_seconds }).success).toBe(false);
  });

  it('encodes a part\'s range into one video-only MP4 per rendition, its key frames forced at the source\'s multiples of segment_seconds', () => {
    const { args, outputs } = hlsPartCommand('/in/video', '/work', params, source, { index: 7, start: 4.44, end: 7.4 });
    expect(args.slice(0, 6)).toEqual(['-ss', '4.440000', '-to', '7.400000', '-i', '/in/video']);
    expect(outputs.map((o) => o.artifact)).toEqual(['part-0007-hls-240p.mp4', 'part-0007-hls-360p.mp4']);
    expect(args.filter((a) => a.startsWith('/work/'))).toEqual(['/work/part-0007-hls-240p.mp4', '/work/part-0007-hls-360p.mp4']);
    // The part's own time 1.56 s is the source's 6 s: the first multiple after its start.
    expect(args.filter((a, i) => args[i - 1] === '-force_key_frames')).toEqual(['expr:gte(t,(n_forced+3)*2-4.440000)', 'expr:gte(t,(n_forced+3)*2-4.440000)']);
    // Each output is one rendition with the unsplit run's cap, no audio, and its length stated to the microsecond.
    expect(args.slice(args.indexOf('[v1]') - 1)).toEqual(['-map', '[v1]', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p',
      '-force_key_frames', 'expr:gte(t,(n_forced+3)*2-4.440000)', '-sc_threshold', '0', '-g', '100', '-fps_mode', 'cfr',
      '-maxrate:v:0', '800k', '-bufsize:v:0', '1600k', '-movie_timescale', '1000000', '/work/part-0007-hls-360p.mp4']);
    expect(args).not.toContain('0:a:0');

    // The first part has the unsplit run's key frames; the last reads to the end of the video.
    const first = hlsPartCommand('/in/video', '/work', params, source, { index: 0, start: 0, end: 4.44 });
    const whole = hlsCommand('/in/video', '/work', params, source).args;
    expect(first.args[first.args.indexOf('-force_key_frames') + 1]).toBe(whole[whole.indexOf('-force_key_frames') + 1]);
    const last = hlsPartCommand('/in/video', '/work', params, source, { index: 2, start: 8, end: null });
    expect(last.args.slice(0, 4)).toEqual(['-ss', '8.000000', '-i', '/in/video']);
    expect(last.args[last.args.indexOf('-force_key_frames') + 1]).toBe('expr:gte(t,(n_forced+4)*2-8.000000)');
  });

  it('joins by copying each rendition\'s parts into the unsplit run\'s HLS muxer, with the audio encoded once from the source', () => {
    const { args, renditions, audio } = hlsJoinCommand('/in/video', '/work', params, source, ['/work/240.concat', '/work/360.concat']);
    expect(renditions.map((r) => r.file)).toEqual(['hls-240p.mp4', 'hls-360p.mp4']);
    expect(audio).toEqual({ playlist: 'hls-audio.m3u8', file: 'hls-audio.mp4' });
    // The lists are read as the worker's runner allows them: plain names beside them (it adds -safe 1 and files only).
    expect(args.slice(0, 8)).toEqual(['-i', '/in/video', '-f', 'concat', '-i', '/work/240.concat', '-f', 'concat']);
    expect(args.filter((a, i) => args[i - 1] === '-map')).toEqual(['1:v:0', '2:v:0', '0:a:0']);
    expect(args).not.toContain('libx264');
    const whole = hlsCommand('/in/video', '/work', params, source).args;
    expect(args.slice(args.indexOf('-c:v'))).toEqual(['-c:v', 'copy', ...whole.slice(whole.indexOf('-c:a'))]);

    // A silent video's join never reads the upload.
    const silent = hlsJoinCommand('/in/video', '/work', params, { ...source, hasAudio: false }, ['/work/240.concat', '/work/360.concat']);
    expect(silent.args).not.toContain('/in/video');
    expect(silent.args.filter((a, i) => silent.args[i - 1] === '-map')).toEqual(['0:v:0', '1:v:0']);
    expect(() => hlsJoinCommand('/in/video', '/work', params, source, ['/work/240.concat'])).toThrow(/1 part lists for 2 renditions/);
  });
});

describe('an H.264 initialization segment', () => {
  /** ftyp (with avc1 among its brands, which must not be mistaken for the sample entry), then moov/.../stsd/avc1/avcC. */
  function init(width: number, height: number, avcc: number[]): Uint8Array {
    const entry = new Uint8Array(78);
    new DataView(entry.buffer).setUint16(24, width);
    new DataView(entry.buffer).setUint16(26, height);
    const avc1 = isoBox('avc1', concat(entry, isoBox('avcC', new Uint8Array(avcc))));
    const stsd = isoBox('stsd', concat(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 1]), avc1));
    const nest = ['stbl', 'minf', 'mdia', 'trak', 'moov'].reduce((inner, type) => isoBox(type, inner), stsd);
    return concat(isoBox('ftyp', Buffer.from('iso5\0\0\x02\0avc1iso6', 'latin1')), nest);
  }

  it('gives the coded size and the avc1 codec string of its sample entry', () => {
    expect(readAvcTrack(init(1280, 720, [1, 0x64, 0x00, 0x1f, 0xff]))).toEqual({ width: 1280, height: 720, codecs: 'avc1.64001f' });
    expect(readAvcTrack(init(426, 240, [1, 0x42, 0xc0, 0x15]))).toEqual({ width: 426, height: 240, codecs: 'avc1.42c015' });
    expect(readAvcTrack(isoBox('ftyp', Buffer.from('iso5\0\0\x02\0avc1', 'latin1')))).toBeNull();
    expect(readAvcTrack(new Uint8Array([0, 0, 0, 99, 1, 2]))).toBeNull();
  });
});

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
