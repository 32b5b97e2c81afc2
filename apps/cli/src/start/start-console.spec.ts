import { describe, expect, it } from '@jest/globals';
import { bannerScrolledAway, frameBanner, StartConsole } from './start-console.js';

/** A stream that keeps what is written to it. */
function capture(tty: { isTTY?: boolean; rows?: number; columns?: number } = {}) {
  const lines: string[] = [];
  return { ...tty, lines, write: (text: string) => lines.push(...text.replace(/\n$/, '').split('\n')) };
}

const jsonLine = JSON.stringify({ level: 'info', time: '2026-12-05T10:00:00.000Z', service: 'worker', msg: 'ready', jobId: 'job-1' });

describe('the banner', () => {
  it('stands apart: blank lines and a frame around it, each line grep-able as written', () => {
    expect(frameBanner('Framewire', ['dashboard: http://127.0.0.1:3000/', 'API key: fwk_abc  (shown once)'], 24)).toEqual([
      '',
      '┌─ Framewire '.padEnd(24, '─'),
      '│ dashboard: http://127.0.0.1:3000/',
      '│ API key: fwk_abc  (shown once)',
      '└'.padEnd(24, '─'),
      '',
    ]);
  });

  it('is printed again when the lines after it, with it, no longer fit on the screen', () => {
    expect(bannerScrolledAway(10, 12, 24)).toBe(false);
    expect(bannerScrolledAway(12, 12, 24)).toBe(false);
    expect(bannerScrolledAway(13, 12, 24)).toBe(true);
  });
});

describe('what framewire start writes', () => {
  it('shows service records as readable lines on a terminal, and keeps stderr as it came', () => {
    const out = capture({ isTTY: true, rows: 40 });
    const err = capture();
    const terminal = new StartConsole(out, err, { NO_COLOR: '1' });
    terminal.say('starting');
    terminal.service('worker-1', 'stdout', jsonLine);
    terminal.service('worker-1', 'stderr', 'a warning');
    expect(terminal.format).toBe('pretty');
    expect(out.lines).toEqual(['[framewire] starting', expect.stringMatching(/^\d\d:\d\d:00\.000 INFO {2}worker-1 {2}ready job=job-1$/)]);
    expect(err.lines).toEqual(['a warning']);
  });

  it('leaves Nest\'s boot lines (modules, routes) out of a person\'s console, and keeps them in JSON', () => {
    const boot = JSON.stringify({ level: 'info', time: '2026-12-05T10:00:00.000Z', service: 'gateway', context: 'RouterExplorer', msg: 'Mapped {/v1/jobs, POST} route' });
    const warned = JSON.stringify({ level: 'warn', time: '2026-12-05T10:00:00.000Z', service: 'gateway', context: 'InstanceLoader', msg: 'odd' });
    const pretty = capture({ isTTY: true });
    const terminal = new StartConsole(pretty, capture(), { NO_COLOR: '1' });
    for (const line of [boot, warned, jsonLine]) terminal.service('gateway', 'stdout', line);
    expect(pretty.lines).toEqual([expect.stringContaining('[InstanceLoader] odd'), expect.stringContaining('ready job=job-1')]);
    const piped = capture();
    new StartConsole(piped, capture(), {}).service('gateway', 'stdout', boot);
    expect(piped.lines).toEqual([boot]);
  });

  it('keeps JSON when piped, and LOG_FORMAT overrides either way', () => {
    const piped = capture();
    new StartConsole(piped, capture(), {}).service('jobs', 'stdout', jsonLine);
    expect(piped.lines).toEqual([jsonLine]);
    const forced = capture({ isTTY: true });
    new StartConsole(forced, capture(), { LOG_FORMAT: 'json' }).service('jobs', 'stdout', jsonLine);
    expect(forced.lines).toEqual([jsonLine]);
    const pretty = capture();
    new StartConsole(pretty, capture(), { LOG_FORMAT: 'pretty' }).service('jobs', 'stdout', jsonLine);
    expect(pretty.lines[0]).toMatch(/INFO {2}jobs {6}ready job=job-1$/);
  });

  it('repeats the banner at the end of startup only when the logs since pushed it off the screen (24 rows when unknown)', () => {
    const out = capture();
    const terminal = new StartConsole(out, capture(), {});
    terminal.showBanner('Framewire', ['API key: fwk_abc  (shown once)']);
    for (let i = 0; i < 19; i++) terminal.service('jobs', 'stdout', jsonLine);
    expect(terminal.repeatBannerIfScrolledAway()).toBe(false);
    terminal.service('jobs', 'stdout', jsonLine);
    expect(terminal.repeatBannerIfScrolledAway()).toBe(true);
    expect(out.lines.filter((line) => line.includes('API key: fwk_abc '))).toHaveLength(2);
    expect(out.lines.at(-3)).toBe('│ API key: fwk_abc  (shown once)');
  });
});
