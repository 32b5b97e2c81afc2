import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { jobCompleted, jobFailed, jobStarted, videoSubmitted } from '../../../../test/support/events.js';
import { decodeEvent, encodeEvent, parseEvent, UncleanEventError } from './event-codec.js';
import { isTerminal } from './job-events.js';

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('event codec', () => {
  it('round-trips every event type', () => {
    const submitted = videoSubmitted();
    const started = jobStarted(submitted);
    for (const event of [submitted, started, jobCompleted(started), jobFailed(started)]) {
      expect(decodeEvent(encodeEvent(event))).toEqual({ ok: true, event });
    }
  });

  it.each([
    ['bytes that are not UTF-8 JSON', new Uint8Array([0xff, 0xfe, 0x00]), 'not UTF-8 JSON'],
    ['JSON that is not an event', encode([1, 2, 3]), 'type'],
    ['an unknown type', encode({ ...videoSubmitted(), type: 'VideoDeleted' }), 'unknown event type "VideoDeleted"'],
    ['an unknown version', encode({ ...videoSubmitted(), version: 9 }), 'unknown version 9 of VideoSubmitted'],
    ['a missing field', encode({ ...videoSubmitted(), jobId: undefined }), 'jobId'],
    ['a job id that is not a UUID', encode({ ...videoSubmitted(), jobId: 'x.>' }), 'jobId'],
    ['a negative attempt', encode({ ...jobStarted(videoSubmitted()), data: { workerId: 'w', attempt: -1 } }), 'data.attempt'],
    ['a bad sha256', encode(videoSubmitted(undefined, { video: { ...videoSubmitted().data.video, sha256: 'zz' } })), 'sha256'],
  ])('reports %s with a reason instead of throwing', (_what, payload, reason) => {
    const result = decodeEvent(payload);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(reason);
  });

  it('never throws, whatever the bytes', () => {
    for (let i = 0; i < 200; i++) {
      expect(() => decodeEvent(randomBytes(i))).not.toThrow();
    }
    for (const value of [null, 0, 'x', {}, { type: 'JobStarted' }, { type: 'JobStarted', version: 1 }, { type: '__proto__', version: 1 }]) {
      expect(parseEvent(value).ok).toBe(false);
    }
  });

  describe('text that is not clean (lone surrogates, NUL)', () => {
    const poisoned = () =>
      videoSubmitted(undefined, {
        params: { label: 'a\u0000b', ['k\ud800']: ['\udc00'] },
        video: { ...videoSubmitted().data.video, filename: `${'a'.repeat(254)}\ud83d` },
      });

    it('is never encoded: the append fails loudly at the writer instead of poisoning every reader', () => {
      expect(() => encodeEvent(poisoned())).toThrow(UncleanEventError);
      expect(() => encodeEvent(poisoned())).toThrow(/data\.params\.label/);
      const clean = videoSubmitted(undefined, { video: { ...videoSubmitted().data.video, filename: 'clip 😀 \u202e.mp4' } });
      expect(decodeEvent(encodeEvent(clean))).toEqual({ ok: true, event: clean });
    });

    it('is refused by parseEvent, with where it is', () => {
      const result = parseEvent(poisoned());
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).toMatch(/^invalid VideoSubmitted v2: data\.params\.label: text is not well-formed Unicode/);
    });

    it('is cleaned where a stored event is decoded, as an old version is upcast: what a release before this rule stored still reads', () => {
      const event = poisoned();
      const result = decodeEvent(encode(event));
      expect(result).toEqual({
        ok: true,
        event: {
          ...event,
          data: {
            ...event.data,
            params: { label: 'ab', ['k\ufffd']: ['\ufffd'] },
            video: { ...event.data.video, filename: `${'a'.repeat(254)}\ufffd` },
          },
        },
      });
    });
  });

  it('knows which events end a job', () => {
    const submitted = videoSubmitted();
    const started = jobStarted(submitted);
    expect(isTerminal(submitted)).toBe(false);
    expect(isTerminal(started)).toBe(false);
    expect(isTerminal(jobCompleted(started))).toBe(true);
    expect(isTerminal(jobFailed(started, 1, true))).toBe(true);
    expect(isTerminal(jobFailed(started, 1, false))).toBe(false);
  });
});
