import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { retryLoop, type Backoff } from '@app/runtime';

export interface ConsumeLoopOptions {
  /** Ends the loop: the open consumer is closed, and no new one is opened. */
  signal: AbortSignal;
  backoff: Backoff;
  /**
   * Opens a round's consumer: makes the durable one if needed and starts consuming it, or starts an
   * ordered one where the previous round stopped.
   */
  open(): Promise<ConsumerMessages>;
  /** Told when a round's consumer is open (before its first message). */
  onOpen?(messages: ConsumerMessages): void;
  /** Handles one message, acking it as it sees fit; an error ends the round. */
  handle(msg: JsMsg): Promise<void>;
  /** Logs a failed round; the next starts after `delayMs`. */
  onError(error: unknown, delayMs: number): void;
  /** Asked before each round: whether to open the consumer again (default: until `signal` aborts). */
  again?(): boolean;
}

/**
 * Consumes a JetStream consumer for as long as the service runs: opens it, hands each message to
 * `handle`, and when the consumer fails or ends (NATS away, the consumer deleted with its stream)
 * logs, backs off (doubling, with a cap; back to the shortest wait once a consumer is open again)
 * and opens it again. Aborting `signal` closes the open consumer and ends the loop.
 */
export function consumeLoop(options: ConsumeLoopOptions): Promise<void> {
  const { signal } = options;
  return retryLoop(
    async (healthy) => {
      const messages = await options.open();
      // close() resolves only once the iteration below has drained, so it is not awaited here.
      const close = () => void messages.close().catch(() => undefined);
      signal.addEventListener('abort', close, { once: true });
      try {
        // Shutdown may have begun while the consumer was being opened.
        if (signal.aborted) close();
        options.onOpen?.(messages);
        healthy();
        for await (const msg of messages) await options.handle(msg);
      } finally {
        signal.removeEventListener('abort', close);
        await messages.close().catch(() => undefined);
      }
    },
    { signal, backoff: options.backoff, onError: options.onError, again: options.again },
  );
}
