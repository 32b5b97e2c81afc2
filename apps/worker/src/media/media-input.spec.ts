import { describe, expect, it } from '@jest/globals';
import { ToolError } from '@app/tools';
import { checkConcatList, concatLists, demuxerFor, ffmpegArgs, inputOptions, type MediaInput } from './media-input.js';

const input: MediaInput = { path: '/scratch/job/input', demuxer: 'mov', maxDurationSec: 14400 };
/** What goes before the upload's -i: its container, protocols, no data references, and the duration limit. */
const upload = [...inputOptions('mov'), '-t', '14400'];

describe('the demuxer of an upload', () => {
  it.each([
    ['video/mp4', 'mov'],
    ['video/quicktime', 'mov'],
    ['video/x-matroska', 'matroska'],
    ['video/webm', 'matroska'],
    ['video/x-msvideo', 'avi'],
    ['video/mp2t', 'mpegts'],
    ['Video/MP4; codecs="avc1"', 'mov'],
    ['application/dash+xml', null],
    ['application/vnd.apple.mpegurl', null],
    ['application/octet-stream', null],
  ])('%s is read with %s', (contentType, demuxer) => {
    expect(demuxerFor(contentType)).toBe(demuxer);
  });

  it('reads the upload as that container, from local files and pipes only, and never follows a MOV data reference', () => {
    expect(inputOptions('mov')).toEqual(['-f', 'mov', '-protocol_whitelist', 'file,pipe', '-enable_drefs', '0']);
    expect(inputOptions('mpegts')).toEqual(['-f', 'mpegts', '-protocol_whitelist', 'file,pipe']);
  });
});

describe('a tool\'s ffmpeg arguments as the runner runs them', () => {
  it('caps the threads of the input and of every output, and puts the upload\'s options (and its duration limit) right before its -i', () => {
    const args = ['-i', input.path, '-filter_complex', '[0:v]split[a][b]', '-map', '[a]', '-q:v', '3', '/scratch/job/0-t/thumb-%06d.jpg', '-map', '[b]', '-f', 'null', '-'];
    expect(ffmpegArgs(args, input, 2)).toEqual([
      '-threads', '2', '-f', 'mov', '-protocol_whitelist', 'file,pipe', '-enable_drefs', '0', '-t', '14400', '-i', input.path,
      '-filter_complex', '[0:v]split[a][b]', '-map', '[a]', '-q:v', '3', '-threads', '2', '/scratch/job/0-t/thumb-%06d.jpg',
      '-map', '[b]', '-f', 'null', '-threads', '2', '-',
    ]);
  });

  it('puts its own -f after one the tool gave, so the sniffed container wins', () => {
    expect(ffmpegArgs(['-f', 'hls', '-i', input.path, 'out.mp4'], input, 1)).toEqual(['-f', 'hls', '-threads', '1', ...upload, '-i', input.path, '-threads', '1', 'out.mp4']);
  });

  it('keeps a tool\'s own -t, or -to, on the upload when it reads no longer than the duration limit', () => {
    const own = (timing: string[]) => ffmpegArgs([...timing, '-i', input.path, 'out.wav'], input, 1);
    const options = inputOptions('mov');
    expect(own(['-t', '5'])).toEqual(['-t', '5', '-threads', '1', ...options, '-i', input.path, '-threads', '1', 'out.wav']);
    expect(own(['-t', '01:02:03.5'])).toEqual(['-t', '01:02:03.5', '-threads', '1', ...options, '-i', input.path, '-threads', '1', 'out.wav']);
    expect(own(['-ss', '10', '-to', '20'])).toEqual(['-ss', '10', '-to', '20', '-threads', '1', ...options, '-i', input.path, '-threads', '1', 'out.wav']);
    // -to is a position: from -ss 14000 to 14500 is 500 s.
    expect(own(['-ss', '14000', '-to', '14500'])).toEqual(['-ss', '14000', '-to', '14500', '-threads', '1', ...options, '-i', input.path, '-threads', '1', 'out.wav']);
  });

  it('puts the duration limit after a tool\'s own -t or -to that would read longer, or that it cannot read, so the limit wins', () => {
    const own = (timing: string[]) => ffmpegArgs([...timing, '-i', input.path, 'out.wav'], input, 1);
    for (const timing of [['-t', '14401'], ['-t', '5:00:00'], ['-t', '1e9'], ['-to', '20000'], ['-ss', '-5', '-to', '14401']]) {
      expect(own(timing)).toEqual([...timing, '-threads', '1', ...upload, '-i', input.path, '-threads', '1', 'out.wav']);
    }
    // A -t of another file (an output's, an earlier input's) is not the upload's.
    expect(ffmpegArgs(['-t', '5', '-i', 'other.mp4', '-i', input.path, 'out.wav'], input, 1)).toEqual([
      '-t', '5', '-threads', '1', '-i', 'other.mp4', '-threads', '1', ...upload, '-i', input.path, '-threads', '1', 'out.wav',
    ]);
  });

  it('leaves other inputs as they are, but caps their threads too', () => {
    expect(ffmpegArgs(['-v', 'info', '-f', 'lavfi', '-i', 'sine', '-i', input.path, '-shortest', '-an', 'out.mkv'], input, 4)).toEqual([
      '-v', 'info', '-f', 'lavfi', '-threads', '4', '-i', 'sine', '-threads', '4', ...upload, '-i', input.path, '-shortest', '-an', '-threads', '4', 'out.mkv',
    ]);
  });

  it('knows the options without a value, as such and negated', () => {
    expect(ffmpegArgs(['-i', 'a.mp4', '-noautorotate', '-vn', 'out.wav'], null, 1)).toEqual(['-threads', '1', '-i', 'a.mp4', '-noautorotate', '-vn', '-threads', '1', 'out.wav']);
  });

  it('never takes an option name for a value, so an option it does not know keeps a valid command whole', () => {
    // -recast_media and -psnr take no value. Read as taking one, -recast_media swallowed the "-i" and
    // -psnr the "-c:v", and -threads landed between -c:v and its codec.
    expect(ffmpegArgs(['-recast_media', '-i', input.path, '-psnr', '-c:v', 'mpeg4', 'out.mp4'], input, 1)).toEqual([
      '-recast_media', '-threads', '1', ...upload, '-i', input.path, '-psnr', '-c:v', 'mpeg4', '-threads', '1', 'out.mp4',
    ]);
    // One no list knows yet (a newer ffmpeg's): the command stays as it was given.
    expect(ffmpegArgs(['-some_new_flag', '-i', 'a.mp4', '-some_new_flag', '-map', '0', 'out.mkv'], null, 1)).toEqual([
      '-some_new_flag', '-threads', '1', '-i', 'a.mp4', '-some_new_flag', '-map', '0', '-threads', '1', 'out.mkv',
    ]);
    // A value that starts with a dash and a digit is a value all the same.
    expect(ffmpegArgs(['-i', 'a.mp4', '-map_metadata', '-1', '-itsoffset', '-0.5', 'out.mkv'], null, 1)).toEqual([
      '-threads', '1', '-i', 'a.mp4', '-map_metadata', '-1', '-itsoffset', '-0.5', '-threads', '1', 'out.mkv',
    ]);
  });

  it.each([
    ['a file: URL', ['-i', `file:${input.path}`, 'out.mp4']],
    ['a movie filter', ['-f', 'lavfi', '-i', `movie=${input.path}`, 'out.mp4']],
    ['a concat list', ['-f', 'concat', '-i', '/scratch/job/0-t/list.txt', '-metadata', `comment=${input.path}`, 'out.mp4']],
    ['an output over it', ['-i', 'other.mp4', input.path]],
  ])('refuses a tool that reads the upload through %s', (_, args) => {
    expect(() => ffmpegArgs(args, input, 1)).toThrow(ToolError);
    expect(() => ffmpegArgs(args, input, 1)).toThrow(/only as "-i <inputPath>"/);
  });

  it('reads a concat list in the scratch directory as plain local files only, after any options the tool gave, and says which lists a command has', () => {
    const list = '/scratch/job/1-transcode/parts.txt';
    const args = ['-f', 'concat', '-safe', '0', '-protocol_whitelist', 'file,http,tcp', '-i', list, '-i', input.path, '-map', '0:v', '-map', '1:a?', '-c:v', 'copy', 'out.mp4'];
    expect(ffmpegArgs(args, input, 1)).toEqual([
      '-f', 'concat', '-safe', '0', '-protocol_whitelist', 'file,http,tcp', '-threads', '1', '-safe', '1', '-protocol_whitelist', 'file', '-i', list,
      '-threads', '1', ...upload, '-i', input.path, '-map', '0:v', '-map', '1:a?', '-c:v', 'copy', '-threads', '1', 'out.mp4',
    ]);
    expect(concatLists(args)).toEqual([list]);
    expect(concatLists(['-i', 'a.txt', '-f', 'concat', 'out.mp4'])).toEqual([]);
    // Without an upload (a tool that does not read it), a list may be anywhere, and is still read as plain files.
    expect(ffmpegArgs(['-f', 'concat', '-i', 'list.txt', 'out.mp4'], null, 1)).toEqual(['-f', 'concat', '-threads', '1', '-safe', '1', '-protocol_whitelist', 'file', '-i', 'list.txt', '-threads', '1', 'out.mp4']);
  });

  it.each([
    ['outside the scratch directory', '/tmp/elsewhere/parts.txt'],
    ['a relative path', 'parts.txt'],
    ['a URL', 'http://example.com/parts.txt'],
    ['a file: URL of a file inside it', 'file:/scratch/job/parts.txt'],
    ['climbing out of it', '/scratch/job/../elsewhere/parts.txt'],
  ])('refuses a concat list %s', (_, list) => {
    expect(() => ffmpegArgs(['-f', 'concat', '-i', list, 'out.mp4'], input, 1)).toThrow(/concat list must be in the job's scratch directory/);
  });

  it('takes from a concat list only plain file names beside it, each with an optional duration', () => {
    const text = "ffconcat version 1.0\n# the parts\nfile 'part-0000-video.mp4'\nduration 2.002000\nfile part-0001-video.mp4\n\n";
    expect(checkConcatList(text, '/scratch/job/1-t/parts.txt')).toEqual(['/scratch/job/1-t/part-0000-video.mp4', '/scratch/job/1-t/part-0001-video.mp4']);
    for (const line of [
      "file '../input'", "file 'a/../../input'", "file '/scratch/job/input'", "file 'file:part.mp4'", "file 'http://example.com/a.mp4'",
      "file 'subfile,,start,0,end,0,,:part.mp4'", "file '.hidden'", 'option enable_drefs 1', "file 'a.mp4' 'b.mp4'", 'duration 2', 'stream', 'duration -1',
    ]) {
      expect(() => checkConcatList(`ffconcat version 1.0\n${line === 'duration 2' ? '' : "file 'a.mp4'\n"}${line}\n`, '/scratch/job/1-t/parts.txt')).toThrow(/is not a plain file name or a duration/);
    }
  });

  it('refuses a -i without its file', () => {
    expect(() => ffmpegArgs(['-i'], input, 1)).toThrow(/-i without a file/);
  });
});
