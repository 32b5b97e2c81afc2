import { describe, expect, it, jest } from '@jest/globals';
import { abortLink } from './abort-link.js';

describe('abortLink', () => {
  it('aborts with the reason of the first parent that aborts, and only once', () => {
    const a = new AbortController();
    const b = new AbortController();
    const link = abortLink([a.signal, b.signal]);
    const seen = jest.fn();
    link.signal.addEventListener('abort', seen);
    expect(link.signal.aborted).toBe(false);
    b.abort('cancelled');
    a.abort('shutdown');
    expect(link.signal.reason).toBe('cancelled');
    expect(seen).toHaveBeenCalledTimes(1);
    expect(link.timedOut).toBe(false);
  });

  it('starts aborted when a parent already is', () => {
    const a = new AbortController();
    a.abort('gone');
    const link = abortLink([a.signal], 10);
    expect(link.signal.aborted).toBe(true);
    expect(link.signal.reason).toBe('gone');
    expect(link.timedOut).toBe(false);
  });

  it('aborts with a TimeoutError when its time is up', async () => {
    const link = abortLink([new AbortController().signal], 5);
    await new Promise((resolve) => link.signal.addEventListener('abort', resolve));
    expect(link.timedOut).toBe(true);
    expect((link.signal.reason as DOMException).name).toBe('TimeoutError');
  });

  it('once disposed, follows neither its parents nor its timer', async () => {
    const a = new AbortController();
    const link = abortLink([a.signal], 5);
    link.dispose();
    a.abort('late');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(link.signal.aborted).toBe(false);
    expect(link.timedOut).toBe(false);
  });
});
