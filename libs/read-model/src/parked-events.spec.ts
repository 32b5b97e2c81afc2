import { describe, expect, it } from '@jest/globals';
import { QueryFailedError } from 'typeorm';
import { dataErrorOf, parkedEventOf, UnprojectableEventError } from './parked-events.js';
import { videoSubmitted } from '../../../test/support/events.js';

const pgError = (code: string, message = 'refused', detail?: string) => Object.assign(new Error(message), { code, ...(detail ? { detail } : {}) });

describe('which failures may park an event', () => {
  it.each([
    ['invalid JSON text (a lone surrogate escape)', '22P02'],
    ['an unsupported Unicode escape (\\u0000)', '22P05'],
    ['a character not in the encoding (NUL in text)', '22021'],
    ['a value out of range', '22003'],
    ['a date/time out of range', '22008'],
    ['a NOT NULL violation', '23502'],
    ['a check violation', '23514'],
    ['a row too large', '54000'],
  ])('%s (%s): the data is at fault', (_what, code) => {
    expect(dataErrorOf(pgError(code))).toEqual({ code, message: 'refused' });
    expect(dataErrorOf(new QueryFailedError('INSERT', [], pgError(code)))).toMatchObject({ code });
  });

  it.each([
    ['PostgreSQL shutting down', '57P01'],
    ['PostgreSQL crashed', '57P02'],
    ['a connection failure', '08006'],
    ['a serialization failure', '40001'],
    ['a deadlock', '40P01'],
    ['a full disk', '53100'],
    ['out of memory', '53200'],
    ['a statement timeout', '57014'],
    ['a transaction already aborted', '25P02'],
    ['a missing table', '42P01'],
  ])('%s (%s): the database is, so nothing is parked', (_what, code) => {
    expect(dataErrorOf(pgError(code))).toBeNull();
    expect(dataErrorOf(new QueryFailedError('INSERT', [], pgError(code)))).toBeNull();
  });

  it('parks nothing for an error without a SQLSTATE (a socket that closed, a timeout), or for a value that is not an error', () => {
    expect(dataErrorOf(new Error('Connection terminated unexpectedly'))).toBeNull();
    expect(dataErrorOf(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBeNull();
    expect(dataErrorOf('22P02')).toBeNull();
    expect(dataErrorOf(null)).toBeNull();
  });

  it('parks for an exception of the fold or of the row mapping, with what it threw', () => {
    expect(dataErrorOf(new UnprojectableEventError('EVOLVE_FAILED', new RangeError('Invalid time value')))).toEqual({ code: 'EVOLVE_FAILED', message: 'RangeError: Invalid time value' });
  });

  it('keeps PostgreSQL\'s detail, and records the message as clean text of at most 1000 characters', () => {
    const cause = dataErrorOf(pgError('22P02', 'invalid input syntax for type json', 'Unicode low surrogate must follow a high surrogate.'))!;
    expect(cause.message).toBe('invalid input syntax for type json (Unicode low surrogate must follow a high surrogate.)');
    const event = videoSubmitted();
    const parked = parkedEventOf(7, event, { code: '22P02', message: `x\u0000\ud83d${'y'.repeat(2000)}` });
    expect(parked).toMatchObject({ seq: 7, jobId: event.jobId, eventId: event.eventId, type: 'VideoSubmitted', version: 2, code: '22P02' });
    expect(parked.message).toBe(`x\ufffd${'y'.repeat(998)}`);
  });
});
