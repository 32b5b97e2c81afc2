import { describe, expect, it } from '@jest/globals';
import { parseChecksumHeader, submissionKeyOf, submissionOf } from './upload-state.js';

describe('Upload-Checksum', () => {
  const digest = Buffer.alloc(32, 7).toString('base64');

  it('takes sha256 with a 32-byte base64 digest, whatever the case of its name', () => {
    expect(parseChecksumHeader(`sha256 ${digest}`)).toEqual({ kind: 'sha256', digest });
    expect(parseChecksumHeader(`SHA256 ${digest}`)).toEqual({ kind: 'sha256', digest });
    expect(parseChecksumHeader(undefined)).toEqual({ kind: 'none' });
  });

  it('names another algorithm as unsupported, and refuses what is not "<algorithm> <base64>"', () => {
    expect(parseChecksumHeader(`md5 ${Buffer.alloc(16).toString('base64')}`)).toEqual({ kind: 'unsupported', algorithm: 'md5' });
    expect(parseChecksumHeader('sha256')).toEqual({ kind: 'malformed' });
    expect(parseChecksumHeader(`sha256 ${Buffer.alloc(16).toString('base64')}`)).toEqual({ kind: 'malformed' });
    expect(parseChecksumHeader('sha256 not*base64')).toEqual({ kind: 'malformed' });
  });
});

describe('Upload-Metadata as a submission', () => {
  it('gives the fields POST /v1/jobs takes, the file name and the idempotency key', () => {
    const submission = submissionOf({ filename: 'a.mp4', pipeline: 'probe', params: '{}', priority: 'high', idempotency_key: 'k-1', filetype: 'video/mp4' });
    expect(submission).toEqual({ filename: 'a.mp4', fields: new Map([['pipeline', 'probe'], ['params', '{}'], ['priority', 'high']]), idempotencyKey: 'k-1' });
    expect(submissionOf(undefined)).toEqual({ filename: undefined, fields: new Map(), idempotencyKey: null });
  });

  it('names a key it does not know', () => {
    expect(submissionOf({ filename: 'a.mp4', colour: 'red' })).toEqual({ unknownKey: 'colour' });
  });

  it("submits under the client's key, or under one of the upload's that no Idempotency-Key header can spell", () => {
    expect(submissionKeyOf('u1', 'mine')).toBe('mine');
    expect(submissionKeyOf('u1', null)).toBe('tus upload u1');
    expect(/^[\x21-\x7e]{1,255}$/.test(submissionKeyOf('u1', null))).toBe(false);
  });
});
