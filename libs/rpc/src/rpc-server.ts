import { ServerNats } from '@nestjs/microservices';
import type { NatsConnection } from '@nats-io/transport-node';

/**
 * Nest's NATS transport with every pattern subscribed under a prefix (`<ns>.rpc`), so that several
 * Framewire installations, or parallel test runs, can share one NATS server without answering each
 * other's queries. Handlers keep their short patterns (`@MessagePattern('jobs.get')`).
 */
export class NamespacedNatsServer extends ServerNats {
  constructor(
    private readonly subjectPrefix: string,
    options: ConstructorParameters<typeof ServerNats>[0],
  ) {
    super(options);
  }

  /**
   * Reports the server as listening only once NATS has registered its subscriptions (a flush), so
   * a query sent right after `listen()` resolves, or after "ready" is logged, finds a responder.
   */
  override start(callback: (error?: unknown) => void): void {
    this.bindEvents(this.connection());
    this.connection()
      .flush()
      .then(() => callback(), (error: unknown) => callback(error));
  }

  private connection(): NatsConnection {
    return (this as unknown as { natsClient: NatsConnection }).natsClient;
  }

  override bindEvents(client: NatsConnection): void {
    const prefix = this.subjectPrefix;
    const prefixed = new Proxy(client, {
      get(target, property, receiver) {
        if (property === 'subscribe') {
          return (subject: string, opts: Parameters<NatsConnection['subscribe']>[1]) =>
            target.subscribe(`${prefix}.${subject}`, opts);
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    super.bindEvents(prefixed);
  }
}
