import { describe, expect, it } from '@jest/globals';
import { JetStreamApiError } from '@nats-io/jetstream';
import { ConnectionError, NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';
import { isNatsUnavailableError, natsFailureMessage, whileNatsUnavailable } from './nats-availability.js';

const apiError = (status: number, code: number, description: string) => new JetStreamApiError({ code: status, err_code: code, description });

describe('what failed when NATS could not serve a request', () => {
  it('says NATS is unreachable only when the connection is down', () => {
    expect(natsFailureMessage(new TimeoutError(), false)).toBe('NATS is unreachable');
    expect(natsFailureMessage(new ConnectionError('connection refused'), true)).toBe('NATS is unreachable');
  });

  it('names JetStream, not the connection, when a request times out while NATS answers (a bucket whose node died)', () => {
    const error = new TimeoutError();
    expect(isNatsUnavailableError(error)).toBe(true);
    expect(natsFailureMessage(error, true)).toMatch(/^JetStream did not answer in time: the servers that hold this stream or bucket are down or electing a leader; NATS itself is reachable$/);
  });

  it("passes JetStream's own answer on: no leader, a stream offline", () => {
    expect(natsFailureMessage(apiError(503, 10008, 'JetStream system temporarily unavailable'), true)).toBe(
      'JetStream is unavailable (JetStream system temporarily unavailable, code 10008); NATS itself is reachable',
    );
    expect(natsFailureMessage(new Error('reading', { cause: apiError(500, 10118, 'stream is offline') }), true)).toMatch(/stream is offline, code 10118/);
  });

  it('tells no responders apart, also under a RequestError', () => {
    expect(natsFailureMessage(new RequestError('request failed', { cause: new NoRespondersError('$JS.API.STREAM.INFO.X') }), true)).toMatch(/no responders/);
  });
});

describe('a start-up step while NATS or JetStream is not answering', () => {
  /** What nats.js throws while a restarted cluster node has no JetStream responders yet. */
  const noJetStreamYet = () => Object.assign(new Error('jetstream is not enabled', { cause: new RequestError('request failed', { cause: new NoRespondersError('$JS.API.INFO') }) }), { name: 'JetStreamNotEnabled' });

  it('runs it again until it works', async () => {
    let calls = 0;
    const retried: number[] = [];
    const result = await whileNatsUnavailable(
      async () => {
        calls += 1;
        if (calls < 3) throw noJetStreamYet();
        return 'made';
      },
      { timeoutMs: 5000, onRetry: (_error, delay) => retried.push(delay) },
    );
    expect(result).toBe('made');
    expect(retried).toEqual([250, 500]);
  });

  it('throws any other error at once, and an outage once the time is up', async () => {
    let calls = 0;
    const refusal = new Error('the filter cannot be changed');
    await expect(whileNatsUnavailable(async () => ((calls += 1), Promise.reject(refusal)), { timeoutMs: 5000 })).rejects.toBe(refusal);
    expect(calls).toBe(1);
    await expect(whileNatsUnavailable(() => Promise.reject(noJetStreamYet()), { timeoutMs: 300 })).rejects.toThrow('jetstream is not enabled');
  });
});
