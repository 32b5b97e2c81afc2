import { describe, expect, it } from '@jest/globals';
import { prettyLogLine, resolveLogFormat, useColour } from './log-format.js';

const record = (fields: Record<string, unknown>) =>
  JSON.stringify({ level: 'info', time: '2026-12-05T10:00:01.250Z', service: 'jobs', pid: 42, msg: 'job claimed', ...fields });

describe('the log format', () => {
  it('is LOG_FORMAT when set, else pretty on a terminal and JSON anywhere else', () => {
    expect(resolveLogFormat(undefined, { isTTY: true })).toBe('pretty');
    expect(resolveLogFormat(undefined, { isTTY: false })).toBe('json');
    expect(resolveLogFormat(undefined, {})).toBe('json');
    expect(resolveLogFormat('json', { isTTY: true })).toBe('json');
    expect(resolveLogFormat('pretty', { isTTY: false })).toBe('pretty');
  });

  it('colours only a terminal, and not with NO_COLOR', () => {
    expect(useColour({ isTTY: true }, {})).toBe(true);
    expect(useColour({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(useColour({ isTTY: false }, {})).toBe(false);
  });
});

describe('a pretty log line', () => {
  it('shows the level, the service, the message and short job and correlation ids, without pid or trace context', () => {
    const line = prettyLogLine(
      record({ jobId: '0193a6f0-0000-7000-8000-000000000002', correlationId: 'req-7', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_id: '00f067aa0ba902b7', attempt: 2 }),
      { colour: false },
    );
    expect(line).toMatch(/^\d\d:\d\d:01\.250 INFO {2}jobs {6}job claimed job=0193a6f0… corr=req-7 attempt=2$/);
    expect(line).not.toMatch(/4bf92f35|00f067aa|pid/);
  });

  it('names the service as the launcher knows it, and quotes values with spaces', () => {
    expect(prettyLogLine(record({ service: 'worker', reason: 'no space left' }), { colour: false, service: 'worker-2' })).toMatch(/INFO {2}worker-2 {2}job claimed reason="no space left"$/);
  });

  it("adds an error's message, and its stack below an error line", () => {
    const line = prettyLogLine(record({ level: 'error', msg: 'projection failed', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at fold (x.ts:1)' } }), { colour: false });
    expect(line.split('\n')).toEqual([expect.stringMatching(/ERROR jobs {6}projection failed: boom$/), '    Error: boom', '    at fold (x.ts:1)']);
  });

  it("puts Nest's context before the message", () => {
    expect(prettyLogLine(record({ context: 'RoutesResolver', msg: 'JobsController {/v1/jobs}:' }), { colour: false })).toMatch(/INFO {2}jobs {6}\[RoutesResolver\] JobsController \{\/v1\/jobs\}:$/);
  });

  it('reads numeric pino levels', () => {
    expect(prettyLogLine(record({ level: 40 }), { colour: false })).toMatch(/ WARN {2}jobs/);
  });

  it('colours the level when asked', () => {
    expect(prettyLogLine(record({ level: 'warn' }), { colour: true })).toContain('\u001b[33mWARN \u001b[0m');
  });

  it('leaves a line that is not a JSON record as it was', () => {
    for (const line of ['    at Object.<anonymous> (main.js:1)', '{not json', '{"no":"level"}', '']) expect(prettyLogLine(line, { colour: false })).toBe(line);
  });
});
