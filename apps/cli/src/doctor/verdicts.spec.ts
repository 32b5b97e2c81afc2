import { describe, expect, it } from '@jest/globals';
import {
  deadLettersVerdict,
  diskVerdict,
  doctorExitCode,
  ffmpegVerdict,
  formatReport,
  goDuration,
  migrationsVerdict,
  nodeVerdict,
  parkedVerdict,
  parseFfmpegList,
  projectorVerdict,
  syncVerdict,
  type Check,
} from './verdicts.js';

const ENCODERS = ` V..... = Video
 A..... = Audio
 ------
 V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC (codec h264)
 V....D mjpeg                MJPEG (Motion JPEG)
 A....D aac                  AAC (Advanced Audio Coding)`;
const MUXERS = ` D. = Demuxing supported
 .E = Muxing supported
 --
  E hls             Apple HTTP Live Streaming
  E image2          image2 sequence
  E mp4             MP4 (MPEG-4 Part 14)
  E null            raw null video`;
const FILTERS = `Filters:
  T.. = Timeline support
  | = Source or sink filter
 ..C scale             V->V       Scale the input video size and/or convert the image format.
 ... select            V->V       Select video frames to pass in output.
 ... tile              V->V       Tile several successive frames together.
 T.. signalstats       V->V       Generate statistics from video analysis.
 T.. metadata          V->V       Manipulate video frame metadata.
 ... split             V->N       Pass on the input to N video outputs.`;

const found = (over: Partial<Record<'encoders' | 'muxers' | 'filters', string>> = {}) => ({
  versionLine: 'ffmpeg version 7.1.1-1+b1 Copyright (c) 2000-2025 the FFmpeg developers',
  encoders: parseFfmpegList(over.encoders ?? ENCODERS),
  muxers: parseFfmpegList(over.muxers ?? MUXERS),
  filters: parseFfmpegList(over.filters ?? FILTERS),
});

describe("ffmpeg's lists", () => {
  it('are read by name, legends left out', () => {
    expect([...parseFfmpegList(ENCODERS)]).toEqual(['libx264', 'mjpeg', 'aac']);
    expect([...parseFfmpegList(MUXERS)]).toEqual(['hls', 'image2', 'mp4', 'null']);
    expect(parseFfmpegList(FILTERS).has('signalstats')).toBe(true);
    expect(parseFfmpegList(FILTERS).has('=')).toBe(false);
  });
});

describe('the verdicts', () => {
  it('ffmpeg: ok with everything the pipelines use, a failure naming what a build lacks or why it cannot run', () => {
    expect(ffmpegVerdict('ffmpeg', found())).toMatchObject({ verdict: 'ok', detail: expect.stringMatching(/^ffmpeg 7\.1\.1-1\+b1: libx264, aac, mjpeg/) });
    const noX264 = ffmpegVerdict('ffmpeg', found({ encoders: ENCODERS.replace(/.*libx264.*\n/, '') }));
    expect(noX264).toMatchObject({ verdict: 'fail', detail: 'ffmpeg 7.1.1-1+b1 lacks libx264 (encoder)', fix: expect.stringMatching(/with libx264/) });
    expect(ffmpegVerdict('/opt/ffmpeg', { error: 'not found' })).toMatchObject({ verdict: 'fail', detail: 'not usable at FFMPEG_PATH=/opt/ffmpeg: not found' });
  });

  it('node: against the engines range', () => {
    expect(nodeVerdict('v22.12.0', '>=20.19').verdict).toBe('ok');
    expect(nodeVerdict('v20.19.0', '>=20.19').verdict).toBe('ok');
    expect(nodeVerdict('v20.18.3', '>=20.19')).toMatchObject({ verdict: 'fail', fix: expect.stringMatching(/install Node\.js 20\.19 or newer/) });
    expect(nodeVerdict('v18.20.0', '>=20.19').verdict).toBe('fail');
  });

  it('NATS sync: always is ok, a timer a warning with its loss window, unknown is skipped', () => {
    expect(syncVerdict({ value: 'always', source: 'from /varz' }).verdict).toBe('ok');
    expect(syncVerdict({ value: goDuration(120_000_000_000), source: 'from /varz' })).toMatchObject({ verdict: 'warn', detail: expect.stringMatching(/^sync_interval: 2m .*lose up to 2m/) });
    expect(syncVerdict(null).verdict).toBe('skip');
    expect([goDuration(1e9), goDuration(90e9), goDuration(7200e9)]).toEqual(['1s', '90s', '2h']);
  });

  it('disk: under 1 GiB a warning, under 100 MiB a failure', () => {
    expect(diskVerdict('/data', 5 * 1024 ** 3)).toMatchObject({ verdict: 'ok', detail: '5.0 GiB free under /data' });
    expect(diskVerdict('/data', 512 * 1024 ** 2)).toMatchObject({ verdict: 'warn', detail: '512 MiB free under /data' });
    expect(diskVerdict('/data', 50 * 1024 ** 2).verdict).toBe('fail');
  });

  it('migrations: none pending is ok; no read model yet is ok (the jobs service makes it); pending ones are named', () => {
    expect(migrationsVerdict('fw_v3', ['A1', 'B2'], ['A1', 'B2']).verdict).toBe('ok');
    expect(migrationsVerdict(null, [], ['A1']).verdict).toBe('ok');
    expect(migrationsVerdict('fw_v3', ['A1'], ['A1', 'B2'])).toMatchObject({ verdict: 'warn', detail: '1 of 2 not applied in fw_v3 yet (B2)' });
  });

  it('the projector: lagging past the threshold is a warning; parked events and dead letters are counted', () => {
    expect(projectorVerdict({ stream: 'FW_EVENTS', messages: 50, lastSeq: 50, checkpoint: 50 })).toMatchObject({ verdict: 'ok', detail: 'FW_EVENTS: 50 events; read model at seq 50 of 50 (lag 0)' });
    expect(projectorVerdict({ stream: 'FW_EVENTS', messages: 5000, lastSeq: 5000, checkpoint: 10 }).verdict).toBe('warn');
    expect(projectorVerdict({ stream: 'FW_EVENTS', messages: 5000, lastSeq: 5000, checkpoint: null }).verdict).toBe('skip');
    expect([parkedVerdict(0).verdict, parkedVerdict(3).verdict, parkedVerdict(null).verdict]).toEqual(['ok', 'warn', 'skip']);
    expect(deadLettersVerdict(2)).toMatchObject({ verdict: 'warn', fix: expect.stringMatching(/framewire dlq/) });
  });
});

describe('the report', () => {
  const checks: Check[] = [
    { name: 'node', verdict: 'ok', detail: 'v22.12.0' },
    { name: 'nats sync', verdict: 'warn', detail: 'sync_interval: 2m', fix: 'set sync_interval: always' },
    { name: 'ffmpeg', verdict: 'fail', detail: 'not found', fix: 'install ffmpeg' },
  ];

  it('exits 1 only when a check failed: warnings are reported, not failures', () => {
    expect(doctorExitCode(checks)).toBe(1);
    expect(doctorExitCode(checks.slice(0, 2))).toBe(0);
    expect(doctorExitCode([])).toBe(0);
  });

  it('is a table with a verdict each, then what to do, then a summary', () => {
    expect(formatReport(checks, false)).toEqual([
      'CHECK      VERDICT  FOUND',
      'node       ok       v22.12.0',
      'nats sync  WARN     sync_interval: 2m',
      'ffmpeg     FAIL     not found',
      '',
      'What to do:',
      '  nats sync: set sync_interval: always',
      '  ffmpeg: install ffmpeg',
      '',
      '1 check failed, 1 warning',
    ]);
    expect(formatReport(checks.slice(0, 1), false).at(-1)).toBe('all is well');
    expect(formatReport(checks, true)[3]).toContain('\u001b[31mFAIL   \u001b[0m');
  });
});
