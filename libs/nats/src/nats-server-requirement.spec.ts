import { describe, expect, it } from '@jest/globals';
import { compareNatsServerVersions, isSupportedNatsServer, parseNatsServerVersion } from './nats-server-requirement.js';

describe('the nats-server version Framewire needs', () => {
  it('reads the version from INFO or from `nats-server --version`', () => {
    expect(parseNatsServerVersion('2.15.1')).toEqual([2, 15, 1]);
    expect(parseNatsServerVersion('nats-server: v2.9.10')).toEqual([2, 9, 10]);
    expect(parseNatsServerVersion('2.12.0-RC.3')).toEqual([2, 12, 0]);
    expect(parseNatsServerVersion('command not found')).toBeNull();
  });

  it('compares releases number by number, not as text', () => {
    expect(compareNatsServerVersions([2, 9, 10], [2, 12, 0])).toBeLessThan(0);
    expect(compareNatsServerVersions([2, 10, 0], [2, 9, 99])).toBeGreaterThan(0);
    expect(compareNatsServerVersions([2, 12, 0], [2, 12, 0])).toBe(0);
    expect(compareNatsServerVersions([3, 0, 0], [2, 99, 99])).toBeGreaterThan(0);
  });

  it.each([
    ['2.9.10', false],
    ['2.10.27', false],
    ['2.11.9', false],
    ['2.12.0', true],
    ['2.12.0-RC.1', true],
    ['2.15.1', true],
    ['2.100.0', true],
    ['3.0.0', true],
    ['', false],
    [undefined, false],
  ])('%j is supported: %s', (version, supported) => {
    expect(isSupportedNatsServer(version)).toBe(supported);
  });
});
