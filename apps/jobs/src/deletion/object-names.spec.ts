import { describe, expect, it } from '@jest/globals';
import { garbageKind, parseObjectName, type OwnerState } from './object-names.js';

const JOB = '0193a6f0-0000-7000-8000-000000000002';
const known = (state: Partial<Extract<OwnerState, { kind: 'known' }>['state']>): OwnerState => ({
  kind: 'known',
  state: { deletedAt: null, status: 'running', attempts: 2, video: { objectName: `uploads/${JOB}/v1` }, resultRef: null, artifacts: [], ...state },
});

describe('object names and garbage', () => {
  it('reads the names the gateway and the workers write, and nothing else', () => {
    expect(parseObjectName(`uploads/${JOB}/v1`)).toEqual({ kind: 'upload', jobId: JOB });
    expect(parseObjectName(`results/${JOB}/3.json`)).toEqual({ kind: 'result', jobId: JOB, attempt: 3 });
    expect(parseObjectName(`artifacts/${JOB}/2/thumb-000000.jpg`)).toEqual({ kind: 'artifact', jobId: JOB, attempt: 2 });
    for (const name of ['notes/readme.txt', `uploads/${JOB}`, `artifacts/${JOB}/0/a.jpg`, `artifacts/not-a-uuid/1/a.jpg`, `results/${JOB}/x.json`]) {
      expect(parseObjectName(name)).toBeNull();
    }
  });

  it('collects every object of a deleted job, and what belongs to no submitted job', () => {
    const artifact = parseObjectName(`artifacts/${JOB}/2/a.jpg`)!;
    expect(garbageKind(`artifacts/${JOB}/2/a.jpg`, artifact, known({ deletedAt: '2026-01-01T00:00:00.000Z', status: 'completed', artifacts: [{ objectName: `artifacts/${JOB}/2/a.jpg` }] }))).toBe('deleted-job');
    expect(garbageKind(`uploads/${JOB}/v1`, parseObjectName(`uploads/${JOB}/v1`)!, { kind: 'unknown' })).toBe('unsubmitted-upload');
    expect(garbageKind(`uploads/${JOB}/v2`, parseObjectName(`uploads/${JOB}/v2`)!, known({}))).toBe('unsubmitted-upload');
    expect(garbageKind(`uploads/${JOB}/v1`, parseObjectName(`uploads/${JOB}/v1`)!, known({}))).toBeNull();
  });

  it('collects files of an attempt that never ended once the job moved on or ended, never the current attempt nor what the job points at', () => {
    const at = (attempt: number) => [`artifacts/${JOB}/${attempt}/a.jpg`, parseObjectName(`artifacts/${JOB}/${attempt}/a.jpg`)!] as const;
    expect(garbageKind(...at(1), known({ attempts: 2 }))).toBe('stale-attempt');
    expect(garbageKind(...at(2), known({ attempts: 2 }))).toBeNull();
    expect(garbageKind(...at(3), known({ attempts: 2, status: 'failed' }))).toBeNull();
    expect(garbageKind(...at(2), known({ attempts: 2, status: 'failed' }))).toBe('stale-attempt');
    expect(garbageKind(...at(2), known({ attempts: 2, status: 'completed', artifacts: [{ objectName: `artifacts/${JOB}/2/a.jpg` }] }))).toBeNull();
    expect(garbageKind(`results/${JOB}/2.json`, parseObjectName(`results/${JOB}/2.json`)!, known({ attempts: 2, status: 'completed', resultRef: { objectName: `results/${JOB}/2.json` } }))).toBeNull();
    expect(garbageKind(...at(1), { kind: 'not-projected' })).toBeNull();
  });
});
