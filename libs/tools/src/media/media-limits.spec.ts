import { describe, expect, it } from '@jest/globals';
import { builtinPlugin } from '../builtin/builtin.plugin.js';
import { CatalogError, describePipeline, ToolCatalog } from '../catalog.js';
import type { PipelineDefinition } from '../tool.js';
import { checkMediaLimits, describeViolations, effectiveLimits, mediaFigures, type MediaLimits } from './media-limits.js';
import type { FfprobeOutput } from './probe-result.js';

type Stream = NonNullable<FfprobeOutput['streams']>[number];

/** The defaults of the MEDIA_MAX_* variables. */
const DEFAULTS: MediaLimits = { maxDurationSec: 4 * 3600, maxPixels: 7680 * 4320, maxFps: 240, maxFrames: 4 * 3600 * 240, maxStreams: 32 };

const video = (over: Partial<Stream> = {}): Stream => ({ index: 0, codec_type: 'video', codec_name: 'h264', width: 1920, height: 1080, avg_frame_rate: '30/1', r_frame_rate: '30/1', nb_frames: '1800', duration: '60.000000', ...over });
const audio = (index: number): Stream => ({ index, codec_type: 'audio', codec_name: 'aac', duration: '60.000000' });
const probe = (streams: Stream[], duration: string | null = '60.000000'): FfprobeOutput => ({ format: { format_name: 'mov,mp4', ...(duration ? { duration } : {}), nb_streams: streams.length }, streams });

describe('media figures from ffprobe', () => {
  it.each<[string, FfprobeOutput, Partial<ReturnType<typeof mediaFigures>>]>([
    ['a 1080p30 minute with audio', probe([video(), audio(1)]), { durationSec: 60, width: 1920, height: 1080, fps: 30, frameCount: 1800, streamCount: 2 }],
    ['the NTSC rate', probe([video({ avg_frame_rate: '30000/1001', nb_frames: '1798', duration: '60.0' })]), { fps: 30000 / 1001 }],
    // Variable frame rate in Matroska: r_frame_rate is the timestamps' base (1000), the video plays at 30.
    ['a VFR file whose r_frame_rate says 1000', probe([video({ r_frame_rate: '1000/1', avg_frame_rate: '30/1' })]), { fps: 30 }],
    ['packets counted where the container stated none', probe([video({ nb_frames: undefined, nb_read_packets: '1500' })]), { frameCount: 1500, fps: 30 }],
    ['counted packets over what the container says', probe([video({ nb_frames: '100', nb_read_packets: '60000' })]), { frameCount: 60000, fps: 1000 }],
    // A header that says 25 fps while an hour holds 3.6 million frames.
    ['a header rate that hides the frames', probe([video({ avg_frame_rate: '25/1', nb_frames: '3600000', duration: '3600' })], '3600'), { fps: 1000, frameCount: 3600000 }],
    ['one frame in a 40 ms stream (not a rate of its own)', probe([video({ avg_frame_rate: '25/1', nb_frames: '1', duration: '0.040000' })], '0.04'), { fps: 25, frameCount: 1 }],
    ['the largest of two video streams', probe([video({ width: 640, height: 360 }), video({ index: 1, width: 3840, height: 2160 })]), { width: 3840, height: 2160 }],
    ['cover art, which is no video stream here', probe([video(), { ...video({ index: 1, width: 8000, height: 8000, avg_frame_rate: '0/0', nb_frames: '1' }), disposition: { attached_pic: 1 } }]), { width: 1920, height: 1080, streamCount: 2 }],
    ['no container duration: the longest stream', probe([video({ duration: '10.5' }), { ...audio(1), duration: '11.25' }], null), { durationSec: 11.25 }],
    ['nothing stated', probe([video({ avg_frame_rate: '0/0', nb_frames: undefined, duration: undefined })], null), { durationSec: null, fps: null, frameCount: null }],
    ['garbage figures', probe([video({ avg_frame_rate: 'x/y', nb_frames: 'N/A', duration: '-5' })], 'N/A'), { durationSec: null, fps: null, frameCount: null }],
  ])('%s', (_, output, expected) => {
    expect(mediaFigures(output)).toMatchObject(expected);
  });
});

describe('media limits', () => {
  const check = (output: FfprobeOutput, limits: MediaLimits = DEFAULTS) => checkMediaLimits(mediaFigures(output), limits).map((v) => [v.limit, v.value, v.max]);
  const streams = (n: number) => [video(), ...Array.from({ length: n - 1 }, (_, i) => audio(i + 1))];

  it.each<[string, FfprobeOutput, Array<[string, number, number]>]>([
    ['1080p30 for a minute', probe([video(), audio(1)]), []],
    ['8K60 for four hours', probe([video({ width: 7680, height: 4320, avg_frame_rate: '60/1', nb_frames: String(4 * 3600 * 60), duration: String(4 * 3600) })], String(4 * 3600)), []],
    ['240 fps slow motion', probe([video({ avg_frame_rate: '240/1', nb_frames: '14400' })]), []],
    ['4 h and a second', probe([video({ nb_frames: '100' })], String(4 * 3600 + 1)), [['maxDurationSec', 14401, 14400]]],
    ['a 16K frame', probe([video({ width: 15360, height: 8640 })]), [['maxPixels', 15360 * 8640, 7680 * 4320]]],
    ['an hour of 16x16 at 1000 fps', probe([video({ width: 16, height: 16, avg_frame_rate: '1000/1', nb_frames: '3600000', duration: '3600' })], '3600'), [['maxFps', 1000, 240], ['maxFrames', 3600000, 3456000]]],
    ['32 streams', probe(streams(32)), []],
    ['33 streams', probe(streams(33)), [['maxStreams', 33, 32]]],
    ['unknown figures, which no limit can judge', probe([video({ avg_frame_rate: '0/0', nb_frames: undefined, duration: undefined })], null), []],
  ])('%s', (_, output, expected) => {
    expect(check(output)).toEqual(expected);
  });

  it('lets a pipeline tighten a limit, never loosen one', () => {
    const effective = effectiveLimits(DEFAULTS, { maxDurationSec: 600, maxFps: 10_000 });
    expect(effective.limits).toEqual({ ...DEFAULTS, maxDurationSec: 600 });
    expect([...effective.tightened]).toEqual(['maxDurationSec']);
    expect(effectiveLimits(DEFAULTS).limits).toEqual(DEFAULTS);
  });

  it('names each limit, its value and where it is set, in the message', () => {
    const output = probe([video({ width: 16, height: 16, avg_frame_rate: '1000/1', nb_frames: '3600000', duration: '3600' })], '3600');
    const effective = effectiveLimits(DEFAULTS, { maxDurationSec: 600 });
    const figures = mediaFigures(output);
    expect(describeViolations(checkMediaLimits(figures, effective.limits), figures, effective, 'short-clips')).toBe(
      'the video is too large to process: duration 3600 s is over 600 s (pipeline "short-clips"\'s limit); frame rate 1000 fps is over 240 fps (MEDIA_MAX_FPS); frame count 3600000 is over 3456000 (MEDIA_MAX_FRAMES)',
    );
    const big = probe([video({ width: 15360, height: 8640 }), audio(1)]);
    expect(describeViolations(checkMediaLimits(mediaFigures(big), DEFAULTS), mediaFigures(big), effectiveLimits(DEFAULTS), 'probe')).toBe(
      'the video is too large to process: frame size 15360x8640 (132710400 pixels) is over 33177600 pixels (MEDIA_MAX_PIXELS)',
    );
  });
});

describe('a pipeline\'s own media limits in the catalog', () => {
  const catalogWith = (pipeline: Partial<PipelineDefinition> & Record<string, unknown>) =>
    new ToolCatalog([
      { source: builtinPlugin.name, tools: builtinPlugin.tools, pipelines: builtinPlugin.pipelines },
      { source: 'my-plugin', tools: [], pipelines: [{ name: 'mine', description: 'x', tools: ['probe'], ...pipeline } as PipelineDefinition] },
    ]);

  it('keeps them with the pipeline; none by default', () => {
    expect(catalogWith({ mediaLimits: { maxDurationSec: 600, maxPixels: 1920 * 1080 } }).pipeline('mine')?.mediaLimits).toEqual({ maxDurationSec: 600, maxPixels: 1920 * 1080 });
    expect(catalogWith({}).pipeline('mine')?.mediaLimits).toEqual({});
  });

  it('shows them in GET /v1/pipelines, in the API\'s spelling', () => {
    const limited = catalogWith({ mediaLimits: { maxDurationSec: 600, maxPixels: 1920 * 1080, maxStreams: 4 } }).pipeline('mine')!;
    expect(describePipeline(limited).media_limits).toEqual({ max_duration_sec: 600, max_pixels: 1920 * 1080, max_streams: 4 });
    expect(describePipeline(catalogWith({}).pipeline('mine')!).media_limits).toEqual({});
  });

  it.each([
    [{ maxDuration: 600 }, /unknown limit "maxDuration"/],
    [{ maxFps: 0 }, /maxFps must be a positive number/],
    [{ maxFps: -1 }, /maxFps must be a positive number/],
    [{ maxFrames: Number.POSITIVE_INFINITY }, /maxFrames must be a positive number/],
    [{ maxStreams: '4' }, /maxStreams must be a positive number/],
    ['tiny', /must be an object/],
  ])('refuses %j at startup', (mediaLimits, message) => {
    expect(() => catalogWith({ mediaLimits } as Record<string, unknown>)).toThrow(CatalogError);
    expect(() => catalogWith({ mediaLimits } as Record<string, unknown>)).toThrow(message);
  });
});
