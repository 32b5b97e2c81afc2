import { describe, expect, it } from '@jest/globals';
import { censusMeasurements, perfCalls, straceCalls } from '../../bench/lib/fsyncs.js';
import { comparisonLabel, serverConfig, supportsSyncInterval, syncLabel } from '../../bench/lib/nats-server.js';

describe("the bench's own nats-server", () => {
  it('syncs before every ack unless the default is asked for', () => {
    expect(serverConfig(4999, '/tmp/s', 'always')).toBe('listen: 127.0.0.1:4999\njetstream {\n  store_dir: "/tmp/s"\n  sync_interval: always\n}\n');
    expect(serverConfig(4999, '/tmp/s', 'default')).not.toContain('sync_interval');
    expect(syncLabel('always')).toBe('sync_interval: always');
    expect(syncLabel('default')).toBe('default sync (2 min)');
  });

  it('knows which servers accept sync_interval (2.10 and newer)', () => {
    expect(['2.9.10', '2.10.0', '2.15.1', '3.0.0'].map(supportsSyncInterval)).toEqual([false, true, true, true]);
  });

  it('labels the rows of the comparison server', () => {
    const server = { url: 'nats://127.0.0.1:1', version: '2.9.10', sync: syncLabel('default'), countFsyncs: async () => null };
    expect(comparisonLabel(server)).toBe('for comparison only: nats-server 2.9.10, default sync (2 min)');
  });
});

describe('counting fsyncs', () => {
  it("reads perf stat's CSV output", () => {
    const text = '# started on Sat Dec  5 08:41:38 2026\n\n3052,,syscalls:sys_enter_fsync,547199665,100.00,,\n7,,syscalls:sys_enter_fdatasync,547199665,100.00,,\n';
    expect(perfCalls(text)).toBe(3059);
    expect(perfCalls('<not supported>,,syscalls:sys_enter_fsync,0,100.00,,\n')).toBeNull();
    expect(perfCalls('')).toBeNull();
  });

  it("reads strace -c's summary table", () => {
    const text = [
      '% time     seconds  usecs/call     calls    errors syscall',
      '------ ----------- ----------- --------- --------- ----------------',
      '100.00    0.812345         270      3001           fsync',
      '  0.00    0.000010          10         1           fdatasync',
      '------ ----------- ----------- --------- --------- ----------------',
      '100.00    0.812355         270      3002           total',
    ].join('\n');
    expect(straceCalls(text)).toBe(3002);
    expect(straceCalls('% time     seconds  usecs/call     calls    errors syscall\n------\n100.00 0 0 0 total\n')).toBe(0);
    expect(straceCalls('strace: attach: ptrace(PTRACE_SEIZE, 1): Operation not permitted\n')).toBeNull();
  });

  it('reports events per fsync, or the fsync count when there was none', () => {
    expect(censusMeasurements('P2 c4', { events: 4000, fsyncs: 1600, tool: 'perf' })).toEqual([
      { name: 'events appended per nats-server fsync, P2 c4', unit: 'events', value: 2.5, extra: { events: 4000, fsyncs: 1600, counter: 'perf' } },
    ]);
    expect(censusMeasurements('P2 c4', { events: 4000, fsyncs: 0, tool: 'perf' })).toEqual([
      { name: 'nats-server fsync calls, P2 c4 (4000 events appended)', unit: 'calls', value: 0, extra: { events: 4000, fsyncs: 0, counter: 'perf' } },
    ]);
    expect(censusMeasurements('P2 c4', undefined)).toEqual([]);
  });
});
