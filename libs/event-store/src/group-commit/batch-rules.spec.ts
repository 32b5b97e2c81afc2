import { describe, expect, it } from '@jest/globals';
import { PubHeaders } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import {
  batchable,
  batchSequences,
  checkScope,
  EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT,
  nextSend,
  sendAtOnce,
  subjectMatches,
  takeBatch,
  type GroupCommitLimits,
} from './batch-rules.js';

const limits: GroupCommitLimits = { minBatch: 4, maxAloneInFlight: 4, maxBatch: 10, maxBatchesInFlight: 1 };

/** A publish to `subject` with message id `id`, expecting `expect` on its subject (or on `over`). */
function msg(subject: string, id: string, expect?: number, over?: string) {
  const h = headers();
  h.set(PubHeaders.MsgIdHdr, id);
  if (expect !== undefined) h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, String(expect));
  if (over) h.set(EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT, over);
  return { subject, headers: h, id };
}

const ids = (messages: { id: string }[]) => messages.map((m) => m.id);

describe('subjectMatches', () => {
  it.each([
    ['ns.job.1.lifecycle', 'ns.job.1.lifecycle', true],
    ['ns.job.1.lifecycle', 'ns.job.2.lifecycle', false],
    ['ns.job.*.lifecycle', 'ns.job.2.lifecycle', true],
    ['ns.job.1.>', 'ns.job.1.submitted.high', true],
    ['ns.job.1.>', 'ns.job.1', false],
    ['ns.job.1.>', 'ns.job.12.lifecycle', false],
    ['ns.job.*', 'ns.job.1.lifecycle', false],
    ['ns.job.1.lifecycle.x', 'ns.job.1.lifecycle', false],
  ])('%s matches %s: %s', (pattern, subject, expected) => {
    expect(subjectMatches(pattern, subject)).toBe(expected);
  });
});

describe('which publishes share a batch', () => {
  it('a check covers its own subject, or the subject its header names; no check, no scope', () => {
    expect(checkScope(msg('a.1', 'x', 3))).toBe('a.1');
    expect(checkScope(msg('a.1.life', 'x', 3, 'a.1.>'))).toBe('a.1.>');
    expect(checkScope(msg('a.1', 'x'))).toBeNull();
  });

  it('sends alone what the server refuses inside a batch', () => {
    const lastMsgId = headers();
    lastMsgId.set(PubHeaders.ExpectedLastMsgIdHdr, 'e1');
    const lastSeq = headers();
    lastSeq.set(PubHeaders.ExpectedLastSeqHdr, '7');
    expect(batchable(msg('a', 'x', 0).headers)).toBe(true);
    expect(batchable(lastMsgId)).toBe(false);
    expect(batchable(lastSeq)).toBe(false);
  });

  it('takes independent publishes in order, up to the most a batch holds', () => {
    const waiting = Array.from({ length: 12 }, (_, i) => msg(`ns.job.${i}.lifecycle`, `e${i}`, 0));
    const { batch, rest } = takeBatch(waiting, 10);
    expect(ids(batch)).toEqual(ids(waiting.slice(0, 10)));
    expect(ids(rest)).toEqual(['e10', 'e11']);
  });

  it('leaves for a later batch a second check of a subject the batch writes to', () => {
    const waiting = [msg('ns.job.1.lifecycle', 'a', 5), msg('ns.job.2.lifecycle', 'b', 0), msg('ns.job.1.lifecycle', 'c', 5), msg('ns.job.3.lifecycle', 'd')];
    const { batch, rest } = takeBatch(waiting, 10);
    expect(ids(batch)).toEqual(['a', 'b', 'd']);
    expect(ids(rest)).toEqual(['c']);
  });

  it('leaves for a later batch a check over a job\'s subject tree that the batch writes into', () => {
    // The server would check both against the stream before the batch, and store both.
    const waiting = [msg('ns.job.1.lifecycle', 'a', 9, 'ns.job.1.>'), msg('ns.job.1.submitted.high', 'b', 9, 'ns.job.1.>'), msg('ns.job.2.lifecycle', 'c', 4, 'ns.job.2.>')];
    expect(ids(takeBatch(waiting, 10).batch)).toEqual(['a', 'c']);
    // A write without a check still counts for the checks after it.
    const unchecked = [msg('ns.job.1.lifecycle', 'a'), msg('ns.job.1.submitted.high', 'b', 9, 'ns.job.1.>')];
    expect(ids(takeBatch(unchecked, 10).rest)).toEqual(['b']);
  });

  it('keeps a repeated message id out of the batch that holds it (the server would refuse the batch)', () => {
    const waiting = [msg('ns.job.1.lifecycle', 'same'), msg('ns.job.2.lifecycle', 'other'), msg('ns.job.3.lifecycle', 'same')];
    const { batch, rest } = takeBatch(waiting, 10);
    expect(ids(batch)).toEqual(['same', 'other']);
    expect(rest.map((m) => m.subject)).toEqual(['ns.job.3.lifecycle']);
  });
});

describe('when to send', () => {
  it('sends a new publish at once while few are in flight and none wait', () => {
    expect(sendAtOnce({ inFlight: 0, batchesInFlight: 0, waiting: 0 }, limits)).toBe(true);
    expect(sendAtOnce({ inFlight: 3, batchesInFlight: 0, waiting: 0 }, limits)).toBe(true);
    expect(sendAtOnce({ inFlight: 4, batchesInFlight: 0, waiting: 0 }, limits)).toBe(false);
    expect(sendAtOnce({ inFlight: 1, batchesInFlight: 0, waiting: 2 }, limits)).toBe(false);
  });

  it('sends a batch when enough wait and a batch may go; else sends few alone, or waits for an answer', () => {
    expect(nextSend({ inFlight: 6, batchesInFlight: 0, waiting: 4 }, limits)).toBe('batch');
    expect(nextSend({ inFlight: 6, batchesInFlight: 1, waiting: 9 }, limits)).toBe('wait');
    expect(nextSend({ inFlight: 2, batchesInFlight: 0, waiting: 3 }, limits)).toBe('alone');
    expect(nextSend({ inFlight: 5, batchesInFlight: 0, waiting: 3 }, limits)).toBe('wait');
    expect(nextSend({ inFlight: 0, batchesInFlight: 0, waiting: 0 }, limits)).toBe('wait');
  });

  it('holds new publishes as soon as `maxAloneInFlight` are in flight, whatever the batch threshold', () => {
    const strict = { ...limits, maxAloneInFlight: 1 };
    expect(sendAtOnce({ inFlight: 0, batchesInFlight: 0, waiting: 0 }, strict)).toBe(true);
    expect(sendAtOnce({ inFlight: 1, batchesInFlight: 0, waiting: 0 }, strict)).toBe(false);
    expect(nextSend({ inFlight: 1, batchesInFlight: 0, waiting: 3 }, strict)).toBe('wait');
    expect(nextSend({ inFlight: 0, batchesInFlight: 0, waiting: 3 }, strict)).toBe('alone');
  });

  it('never leaves publishes waiting with nothing in flight (an answer is what sends them)', () => {
    for (let waiting = 1; waiting <= 20; waiting++) expect(nextSend({ inFlight: 0, batchesInFlight: 0, waiting }, limits)).not.toBe('wait');
  });
});

describe('batchSequences', () => {
  it('numbers a committed batch back from the sequence of its last message', () => {
    expect(batchSequences(41, 4)).toEqual([38, 39, 40, 41]);
    expect(batchSequences(7, 1)).toEqual([7]);
  });
});
