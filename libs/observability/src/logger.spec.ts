import { describe, expect, it } from '@jest/globals';
import { redactUrl } from './logger.js';

describe('request URLs in the logs', () => {
  it('keep their path and ordinary parameters but never a credential', () => {
    expect(redactUrl('/v1/jobs/0193/video?token=eyJrIjoia2V5.abc')).toBe('/v1/jobs/0193/video?token=[redacted]');
    expect(redactUrl('/v1/jobs?limit=5&api_key=fwk_secret&status=failed')).toBe('/v1/jobs?limit=5&api_key=[redacted]&status=failed');
    expect(redactUrl('/v1/ws/jobs/1?TOKEN=a&token=b#x')).toBe('/v1/ws/jobs/1?TOKEN=[redacted]&token=[redacted]#x');
    expect(redactUrl('/v1/jobs?tokens=5&monkey=1')).toBe('/v1/jobs?tokens=5&monkey=1');
    expect(redactUrl('/v1/jobs/0193/media/eyJrIjoia2V5.abc/hls-240p.mp4')).toBe('/v1/jobs/0193/media/[redacted]/hls-240p.mp4');
    expect(redactUrl('/v1/jobs/0193/media/eyJrIjoia2V5.abc/master.m3u8?token=x')).toBe('/v1/jobs/0193/media/[redacted]/master.m3u8?token=[redacted]');
  });
});
