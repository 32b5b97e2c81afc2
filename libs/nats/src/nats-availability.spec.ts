import { describe, expect, it } from '@jest/globals';
import { JetStreamApiError } from '@nats-io/jetstream';
import { ConnectionError, NoRespondersError, RequestError, TimeoutError, type NatsConnection } from '@nats-io/transport-node';
import { isConnectionLossError, isNatsUnavailableError, NatsAvailability, NatsConnectionLostError, natsFailureMessage, whileNatsUnavailable } from './nats-availability.js';

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

describe('work that needs the connection (unlessLost)', () => {
  /** A connection whose status events the test sends. */
  function fakeConnection() {
    const pending: Array<{ type: string }> = [];
    let wake: (() => void) | null = null;
    let closed = false;
    const nc = {
      isClosed: () => closed,
      status: () => ({
        async *[Symbol.asyncIterator]() {
          while (!closed) {
            if (pending.length === 0) await new Promise<void>((resolve) => (wake = resolve));
            while (pending.length > 0) yield pending.shift()!;
          }
        },
      }),
    };
    const send = async (type: string) => {
      pending.push({ type });
      wake?.();
      // The watcher runs on the next turns.
      await new Promise((resolve) => setImmediate(resolve));
    };
    return { nc: nc as unknown as NatsConnection, send, close: () => ((closed = true), wake?.()) };
  }
  const never = () => new Promise<never>(() => undefined);
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it("gives the work's result while the connection stays up", async () => {
    const { nc, close } = fakeConnection();
    const availability = new NatsAvailability(nc);
    await expect(availability.unlessLost(Promise.resolve('stored'), 0)).resolves.toBe('stored');
    const failure = new Error('refused');
    await expect(availability.unlessLost(Promise.reject(failure), 0)).rejects.toBe(failure);
    close();
  });

  it('fails once the connection has been down for the grace period, as an outage', async () => {
    const { nc, send, close } = fakeConnection();
    const availability = new NatsAvailability(nc);
    const started = Date.now();
    const waiting = availability.unlessLost(never(), 100);
    await send('disconnect');
    const error = await waiting.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NatsConnectionLostError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(isNatsUnavailableError(error)).toBe(true);
    expect(isConnectionLossError(error)).toBe(true);
    expect(natsFailureMessage(error, false)).toBe('NATS is unreachable');
    close();
  });

  it('lets the work go on when the connection comes back within the grace period', async () => {
    const { nc, send, close } = fakeConnection();
    const availability = new NatsAvailability(nc);
    let finish!: (value: string) => void;
    const waiting = availability.unlessLost(new Promise<string>((resolve) => (finish = resolve)), 150);
    await send('disconnect');
    await sleep(50);
    await send('reconnect');
    await sleep(200);
    finish('stored after the reconnect');
    await expect(waiting).resolves.toBe('stored after the reconnect');
    close();
  });

  it('fails work started while the connection is down, and when it closes for good', async () => {
    const { nc, send, close } = fakeConnection();
    const availability = new NatsAvailability(nc);
    await send('disconnect');
    await expect(availability.unlessLost(never(), 10)).rejects.toBeInstanceOf(NatsConnectionLostError);
    await send('reconnect');
    const waiting = availability.unlessLost(never(), 10);
    close();
    await expect(waiting).rejects.toBeInstanceOf(NatsConnectionLostError);
  });
});

describe('a failure for want of an answer (isConnectionLossError)', () => {
  it('is a timeout or a lost connection, also as a cause, and not an answer from JetStream', () => {
    expect(isConnectionLossError(new TimeoutError())).toBe(true);
    expect(isConnectionLossError(new Error('put failed', { cause: new ConnectionError('connection refused') }))).toBe(true);
    expect(isConnectionLossError(new NoRespondersError('$O.bucket.C.x'))).toBe(false);
    expect(isConnectionLossError(apiError(404, 10059, 'stream not found'))).toBe(false);
    expect(isConnectionLossError('timeout')).toBe(false);
  });
});
