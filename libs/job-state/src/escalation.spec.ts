import { describe, expect, it } from '@jest/globals';
import { escalateResourceFailure, type AttemptFailure } from './decide.js';

const failure = (code: string, message: string, permanent: boolean): AttemptFailure => ({ code, message, permanent });

describe('a tool killed for time or memory twice in a row', () => {
  const timeout = () => failure('TOOL_TIMEOUT', 'tool "scenes" ran longer than 900000 ms', false);
  const memory = () => failure('RESOURCE_LIMIT', 'ffmpeg ran out of its memory cap of 4096 MiB', false);

  it.each([
    ['a first timeout', timeout(), null, 'TOOL_TIMEOUT', false],
    ['a first memory kill', memory(), null, 'RESOURCE_LIMIT', false],
    ['a timeout after a failure of another kind', timeout(), 'TOOL_FAILED', 'TOOL_TIMEOUT', false],
    ['a timeout after a timeout', timeout(), 'TOOL_TIMEOUT', 'RESOURCE_LIMIT', true],
    ['a memory kill after a timeout', memory(), 'TOOL_TIMEOUT', 'RESOURCE_LIMIT', true],
    ['a timeout after a memory kill', timeout(), 'RESOURCE_LIMIT', 'RESOURCE_LIMIT', true],
    ['another failure after a timeout', failure('TOOL_FAILED', 'boom', false), 'TOOL_TIMEOUT', 'TOOL_FAILED', false],
    ['a permanent failure after a timeout', failure('INVALID_MEDIA', 'bad', true), 'TOOL_TIMEOUT', 'INVALID_MEDIA', true],
  ] as const)('%s', (_, given, previous, code, permanent) => {
    const decided = escalateResourceFailure(given, previous);
    expect([decided.code, decided.permanent]).toEqual([code, permanent]);
  });

  it('says why it gives up', () => {
    expect(escalateResourceFailure(timeout(), 'RESOURCE_LIMIT').message).toBe(
      'tool "scenes" ran longer than 900000 ms (the attempt before was stopped for RESOURCE_LIMIT too: not retried again)',
    );
  });
});
