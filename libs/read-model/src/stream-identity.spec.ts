import { describe, expect, it } from '@jest/globals';
import { describeStreamMismatch, judgeStream, streamMismatchOf } from './stream-identity.js';

const first = { stream: 'FW_EVENTS', created: '2026-12-01T10:00:00.123456789Z' };
const again = { stream: 'FW_EVENTS', created: '2026-12-04T08:30:00.987654321Z' };
const renamed = { stream: 'OTHER_EVENTS', created: first.created };

describe('judgeStream: does a read model belong to the stream that is there now?', () => {
  it.each([
    ['the same stream, grown past the checkpoint', { checkpoint: 36, identity: first }, { identity: first, lastSeq: 40 }, { kind: 'same' }],
    ['the same stream, at the checkpoint', { checkpoint: 36, identity: first }, { identity: first, lastSeq: 36 }, { kind: 'same' }],
    ['a stream made again, still below the checkpoint', { checkpoint: 36, identity: first }, { identity: again, lastSeq: 9 }, { kind: 'other', reason: 'identity' }],
    ['a stream made again and refilled past the checkpoint: only its identity tells', { checkpoint: 36, identity: first }, { identity: again, lastSeq: 90 }, { kind: 'other', reason: 'identity' }],
    ['another stream name (another namespace on the same schema)', { checkpoint: 36, identity: first }, { identity: renamed, lastSeq: 90 }, { kind: 'other', reason: 'identity' }],
    ['the same stream that lost its last messages', { checkpoint: 36, identity: first }, { identity: first, lastSeq: 30 }, { kind: 'other', reason: 'rewound' }],
    ['a model that folded nothing and records no stream yet', { checkpoint: 0, identity: null }, { identity: again, lastSeq: 0 }, { kind: 'adopt' }],
    ['a model from before identities, the stream past its checkpoint', { checkpoint: 36, identity: null }, { identity: first, lastSeq: 40 }, { kind: 'adopt' }],
    ['a model from before identities, the stream below its checkpoint', { checkpoint: 36, identity: null }, { identity: again, lastSeq: 9 }, { kind: 'other', reason: 'rewound' }],
    // Once recorded, an identity is never replaced, even at checkpoint 0 (a racing writer of the old stream could be folding into it).
    ['an empty model that recorded another stream', { checkpoint: 0, identity: first }, { identity: again, lastSeq: 0 }, { kind: 'other', reason: 'identity' }],
  ] as const)('%s', (_case, model, stream, verdict) => {
    expect(judgeStream(model, stream)).toEqual(verdict);
  });

  it('names a mismatch with what the model holds and what the stream is, and none where they go together', () => {
    expect(streamMismatchOf('public_v1_x', { checkpoint: 36, identity: first }, { identity: again, lastSeq: 9 })).toEqual({
      reason: 'identity',
      schema: 'public_v1_x',
      checkpoint: 36,
      stored: first,
      found: again,
      lastSeq: 9,
    });
    expect(streamMismatchOf('public_v1_x', { checkpoint: 36, identity: null }, { identity: first, lastSeq: 30 })).toMatchObject({ reason: 'rewound', stored: null });
    expect(streamMismatchOf('public_v1_x', { checkpoint: 36, identity: first }, { identity: first, lastSeq: 40 })).toBeNull();
    expect(streamMismatchOf('public_v1_x', { checkpoint: 0, identity: null }, { identity: again, lastSeq: 0 })).toBeNull();
  });

  it('describes a mismatch with both streams and the checkpoint, in one line', () => {
    const text = describeStreamMismatch({ reason: 'identity', schema: 'public_v1_x', checkpoint: 36, stored: first, found: again, lastSeq: 9 });
    expect(text).toBe(
      'the event stream is not the one the read model was projected from (another stream): the model public_v1_x holds FW_EVENTS created 2026-12-01T10:00:00.123456789Z through seq 36; ' +
        'the stream now is FW_EVENTS created 2026-12-04T08:30:00.987654321Z, last seq 9',
    );
    expect(describeStreamMismatch({ reason: 'rewound', schema: 'public_v1_x', checkpoint: 36, stored: null, found: first, lastSeq: 30 })).toMatch(
      /\(the stream ends below the checkpoint 36\): the model public_v1_x holds a stream it did not record through seq 36/,
    );
  });
});
