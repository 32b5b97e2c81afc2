import type { JetStreamManager } from '@nats-io/jetstream';
import type { ConsumerFigures, JetStreamFigures } from '@app/contracts';

/** Reads stream and consumer state: what the operator's dashboard and the metrics show. */
export async function readJetStreamFigures(jsm: JetStreamManager, streamName: string): Promise<JetStreamFigures> {
  const info = await jsm.streams.info(streamName);
  const consumers: ConsumerFigures[] = [];
  for await (const c of jsm.consumers.list(streamName)) {
    // Ephemeral ordered consumers (replays, live feeds) come and go; the durable ones are the queue.
    if (!c.config.durable_name) continue;
    consumers.push({
      name: c.name,
      pending: c.num_pending,
      ack_pending: c.num_ack_pending,
      redelivered: c.num_redelivered,
      waiting: c.num_waiting,
      delivered_stream_seq: c.delivered.stream_seq,
      ack_floor_stream_seq: c.ack_floor.stream_seq,
      // The workers' consumers filter several subjects (jobs, and split jobs' parts): shown joined.
      filter_subject: c.config.filter_subject || (c.config.filter_subjects?.length ? c.config.filter_subjects.join(', ') : null),
    });
  }
  consumers.sort((a, b) => a.name.localeCompare(b.name));
  return {
    stream: {
      name: info.config.name,
      messages: info.state.messages,
      bytes: info.state.bytes,
      first_seq: info.state.first_seq,
      last_seq: info.state.last_seq,
      consumer_count: info.state.consumer_count,
    },
    consumers,
  };
}
