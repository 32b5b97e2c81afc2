import { describe, expect, it } from '@jest/globals';
import { parseAckSubject, TERM_REASON_MAX, termBody } from './work-puller.js';

describe('termBody', () => {
  it('is a plain term without a reason', () => {
    expect(termBody()).toBe('+TERM');
    expect(termBody('  ')).toBe('+TERM');
  });

  it('puts the reason on the one line after +TERM, cut to TERM_REASON_MAX characters', () => {
    expect(termBody('bad\r\nmessage')).toBe('+TERM bad message');
    expect(termBody('x'.repeat(TERM_REASON_MAX + 50))).toBe(`+TERM ${'x'.repeat(TERM_REASON_MAX)}`);
  });
});

describe('parseAckSubject', () => {
  it('reads the delivery count, stream sequence and pending count of the current ack subject (domain and account hash, token at the end)', () => {
    expect(parseAckSubject('$JS.ACK._.ACCHASH.S_EVENTS.workers.3.41.7.1733390000000000000.2.tok')).toEqual({ consumer: 'workers', deliveryCount: 3, seq: 41, storedAtMs: 1733390000000, pending: 2 });
  });

  it('reads the older form without domain and account hash', () => {
    expect(parseAckSubject('$JS.ACK.S_EVENTS.workers.1.12.5.1733390000000000000.0')).toEqual({ consumer: 'workers', deliveryCount: 1, seq: 12, storedAtMs: 1733390000000, pending: 0 });
  });

  it('refuses a subject that is not an ack subject', () => {
    expect(() => parseAckSubject('_INBOX.abc')).toThrow('not a JetStream ack subject');
  });
});
