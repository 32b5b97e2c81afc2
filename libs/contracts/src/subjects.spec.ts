import { describe, expect, it } from '@jest/globals';
import { isValidNamespace, jobSubjects } from './subjects.js';

const JOB = '0192f3a4-5b6c-7d8e-9f01-23456789abcd';

describe('subject scheme', () => {
  const s = jobSubjects('framewire');

  it('gives each job exact subjects for its submission and its lifecycle', () => {
    expect(s.submitted(JOB, 'normal')).toBe(`framewire.job.${JOB}.submitted.normal`);
    expect(s.submitted(JOB, 'high')).toBe(`framewire.job.${JOB}.submitted.high`);
    expect(s.lifecycle(JOB)).toBe(`framewire.job.${JOB}.lifecycle`);
    expect(s.submitted(JOB, 'low')).not.toMatch(/[*>]/);
    expect(s.lifecycle(JOB)).not.toMatch(/[*>]/);
  });

  it('lets workers see only submissions and readers see everything', () => {
    expect(s.allSubmitted).toBe('framewire.job.*.submitted.*');
    expect(s.submittedWith('low')).toBe('framewire.job.*.submitted.low');
    expect(s.submittedOfJob(JOB)).toBe(`framewire.job.${JOB}.submitted.*`);
    expect(s.all).toBe('framewire.job.>');
    expect(s.ofJob(JOB)).toBe(`framewire.job.${JOB}.>`);
  });

  it('keeps request/reply subjects outside the stream', () => {
    expect(s.rpc('jobs.get')).toBe('framewire.rpc.jobs.get');
    expect(s.rpc('jobs.get').startsWith('framewire.job.')).toBe(false);
  });

  it('names the stream and the bucket after the namespace', () => {
    expect(s.streamName).toBe('FRAMEWIRE_EVENTS');
    expect(s.videoBucket).toBe('framewire_videos');
    expect(jobSubjects('t-1').streamName).toBe('T-1_EVENTS');
    expect(s.advisoryStreamName).toBe('FRAMEWIRE_ADVISORIES');
    expect(s.maxDeliveriesAdvisories).toBe('$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.FRAMEWIRE_EVENTS.*');
  });

  it('parses an event subject back into job and role', () => {
    expect(s.parse(s.submitted(JOB, 'high'))).toEqual({ jobId: JOB, role: 'submitted', priority: 'high' });
    expect(s.parse(s.lifecycle(JOB))).toEqual({ jobId: JOB, role: 'lifecycle', priority: null });
    expect(s.parse(`other.job.${JOB}.submitted.normal`)).toBeNull();
    expect(s.parse(`framewire.job.${JOB}.submitted`)).toBeNull();
    expect(s.parse(`framewire.job.${JOB}.submitted.urgent`)).toBeNull();
    expect(s.parse(`framewire.job.${JOB}.lifecycle.x`)).toBeNull();
    expect(s.parse(`framewire.job.${JOB}.deleted`)).toBeNull();
    expect(s.parse('framewire.job.submitted')).toBeNull();
  });

  it('refuses ids that would change the subject tokens', () => {
    for (const bad of ['a.b', 'a*', '>', '', 'a b']) expect(() => s.submitted(bad, 'normal')).toThrow();
    expect(() => s.submitted(JOB, 'urgent' as never)).toThrow(/priority/);
  });

  it('accepts only namespaces that are safe as tokens and names', () => {
    expect(isValidNamespace('framewire')).toBe(true);
    expect(isValidNamespace('t_1-x')).toBe(true);
    for (const bad of ['', 'Framewire', 'a.b', '1abc', 'a>', 'x'.repeat(33)]) expect(isValidNamespace(bad)).toBe(false);
    expect(() => jobSubjects('a.b')).toThrow(/invalid namespace/);
  });
});
