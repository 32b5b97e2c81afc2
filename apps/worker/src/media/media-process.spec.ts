import { describe, expect, it } from '@jest/globals';
import { memoryCapMb, resourceFailure } from './media-process.js';

describe('what ffmpeg and ffprobe die of', () => {
  it.each([
    ['x264 out of memory', 1, 'x264 [error]: malloc of size 44329344 failed\nError submitting video frame to the encoder\n', null, 'RESOURCE_LIMIT'],
    ['a decoder out of memory', 1, '[h264 @ 0x5559] Could not allocate memory\n', null, 'RESOURCE_LIMIT'],
    ['an allocation refused', 1, 'Error while filtering: Cannot allocate memory\n', null, 'RESOURCE_LIMIT'],
    ['a thread refused', 1, 'Failed to inject frame into filter network: Resource temporarily unavailable\n', null, 'RESOURCE_LIMIT'],
    ['a library that could not be mapped', 127, 'ffmpeg: error while loading shared libraries: libx.so.1: failed to map segment from shared object\n', null, 'RESOURCE_LIMIT'],
    ['a crash', null, '', 'SIGSEGV', 'RESOURCE_LIMIT'],
    ['an abort', null, 'malloc(): corrupted top size\n', 'SIGABRT', 'RESOURCE_LIMIT'],
    ['no such binary', 127, 'sh: 1: exec: /opt/ffmpeg: not found\n', null, 'TOOL_FAILED'],
    ['a binary that may not be executed', 126, 'sh: 1: exec: /opt/ffmpeg: Permission denied\n', null, 'TOOL_FAILED'],
    ['a cap above the hard limit', 127, 'sh: 1: ulimit: error setting limit (Operation not permitted)\n', null, 'TOOL_FAILED'],
    ['a broken input', 1, 'moov atom not found\n', null, null],
    ['a bad option', 1, 'Unrecognized option \'frobnicate\'.\n', null, null],
  ] as const)('%s', (_, code, stderr, signal, expected) => {
    expect(resourceFailure('ffmpeg', code, stderr, signal, 4096)?.code ?? null).toBe(expected);
  });

  it('is transient, and names the cap', () => {
    const failure = resourceFailure('ffmpeg', 1, 'x264 [error]: malloc of size 44329344 failed\nError submitting video frame\n', null, 512)!;
    expect(failure.permanent).toBe(false);
    expect(failure.message).toBe('ffmpeg ran out of its memory cap of 512 MiB (FFMPEG_MEMORY_MB): x264 [error]: malloc of size 44329344 failed');
  });

  it('caps memory at 4 GiB, or 256 MiB a thread when that is more, unless told otherwise', () => {
    expect(memoryCapMb({ FFMPEG_MEMORY_MB: undefined, FFMPEG_THREADS: 2 })).toBe(4096);
    expect(memoryCapMb({ FFMPEG_MEMORY_MB: undefined, FFMPEG_THREADS: 32 })).toBe(8192);
    expect(memoryCapMb({ FFMPEG_MEMORY_MB: 0, FFMPEG_THREADS: 2 })).toBe(0);
    expect(memoryCapMb({ FFMPEG_MEMORY_MB: 300, FFMPEG_THREADS: 2 })).toBe(300);
  });
});
