import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { FramewireError } from './errors.js';
import { jobUpdates, type JobUpdate } from './job-updates.js';

const status = (seq: number, s: string) => `id: ${seq}\nevent: status\ndata: ${JSON.stringify({ job_id: 'j', status: s, attempt: 1, worker_id: null, error: null, progress: null })}\n\n`;

/** An answer: an event stream of `body`, then the connection closes. */
const events = (body: string) => (res: ServerResponse) => void res.writeHead(200, { 'Content-Type': 'text/event-stream' }).end(body);

/** An SSE server on loopback that answers each connection with the next of `answers`, and remembers each request's headers. */
function sse(answers: Array<(res: ServerResponse) => void>): Promise<{ url: string; requests: IncomingHttpHeaders[]; server: Server }> {
  const requests: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    requests.push(req.headers);
    const answer = answers[requests.length - 1];
    if (answer) answer(res);
    else res.writeHead(500).end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/jobs/j/stream`, requests, server })));
}

describe("a job's live updates", () => {
  let server: Server | null = null;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  const collect = async (source: Parameters<typeof jobUpdates>[0]) => {
    const seen: JobUpdate[] = [];
    for await (const update of jobUpdates(source)) seen.push(update);
    return seen;
  };

  it('carries the key, resumes a dropped stream after the last event it had, and ends at the ending', async () => {
    // The first connection drops after two events; the second brings the ending.
    const stream = await sse([events(`retry: 10\n\n${status(3, 'queued')}${status(5, 'running')}`), events(status(8, 'completed').replace('event: status', 'event: completed'))]);
    server = stream.server;
    const seen = await collect({ url: stream.url, headers: { Authorization: 'Bearer fwk_test' }, fetch });
    expect(seen.map((u) => [u.kind, u.seq])).toEqual([['status', 3], ['status', 5], ['completed', 8]]);
    expect(stream.requests.map((h) => [h['authorization'], h['last-event-id']])).toEqual([['Bearer fwk_test', undefined], ['Bearer fwk_test', '5']]);
  });

  it("throws the API's refusal, and the stream's own error event, as a FramewireError with its code", async () => {
    const stream = await sse([
      (res) => res.writeHead(429, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: { code: 'TOO_MANY_STREAMS', message: 'too many' } })),
      events(`event: error\ndata: ${JSON.stringify({ error: { code: 'STREAM_FAILED', message: 'lost' } })}\n\n`),
    ]);
    server = stream.server;
    await expect(collect({ url: stream.url, headers: {}, fetch })).rejects.toMatchObject({ status: 429, code: 'TOO_MANY_STREAMS' });
    const failed = collect({ url: stream.url, headers: {}, fetch });
    await expect(failed).rejects.toBeInstanceOf(FramewireError);
    await expect(failed).rejects.toMatchObject({ code: 'STREAM_FAILED' });
  });
});
