import { JetStreamApiCodes, JetStreamApiError, type ConsumerConfig, type ConsumerInfo, type ConsumerUpdateConfig, type JetStreamManager } from '@nats-io/jetstream';

/**
 * Creates a durable consumer, or updates the fields of an existing one that may change. Safe to call
 * from every instance at every start. A consumer whose filter differs (one made by an older version
 * for an older subject scheme) is deleted and made again: nats-server 2.9 accepts a filter update but
 * goes on waking the consumer for the old filter, so waiting pulls would only see new messages when
 * they are renewed, and 2.10 refuses to create one over it. When that cannot be done (the NATS user
 * may not delete the consumer, say), this fails with a ConsumerFilterError rather than go on with
 * the old filter.
 */
export async function ensureDurableConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string },
  mutable: (keyof ConsumerUpdateConfig)[],
): Promise<ConsumerInfo> {
  try {
    const info = await jsm.consumers.info(stream, config.durable_name);
    const current = info.config as unknown as Record<string, unknown>;
    const wanted = filtersOf(config as Record<string, unknown>);
    if (wanted !== null && wanted !== filtersOf(current)) {
      return await remake(jsm, stream, config, filtersOf(current) ?? '');
    }
    const changed = mutable.filter((key) => JSON.stringify(current[key]) !== JSON.stringify(config[key]));
    if (changed.length === 0) return info;
    return await jsm.consumers.update(
      stream,
      config.durable_name,
      Object.fromEntries(changed.map((key) => [key, config[key]])) as Partial<ConsumerUpdateConfig>,
    );
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)) throw error;
    return addOrFind(jsm, stream, config);
  }
}

/** A durable consumer could not be brought to the filter this version needs. */
export class ConsumerFilterError extends Error {
  override readonly name = 'ConsumerFilterError';
}

/** Deletes a consumer whose filter changed and makes it again; one that another instance deleted meanwhile is fine. */
async function remake(jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig> & { durable_name: string }, oldFilter: string): Promise<ConsumerInfo> {
  const what = `the durable consumer ${config.durable_name} of ${stream} filters "${oldFilter}" but this version needs "${filtersOf(config as Record<string, unknown>)}"`;
  try {
    await jsm.consumers.delete(stream, config.durable_name);
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)) {
      throw new ConsumerFilterError(
        `${what}, and deleting it to make it again failed (${error instanceof Error ? error.message : String(error)}): allow this NATS user $JS.API.CONSUMER.DELETE.${stream}.${config.durable_name}, or delete the consumer as an operator`,
      );
    }
  }
  const made = await addOrFind(jsm, stream, config);
  if (filtersOf(made.config as unknown as Record<string, unknown>) !== filtersOf(config as Record<string, unknown>)) {
    throw new ConsumerFilterError(`${what}; it was deleted, and something made it again with the old filter (a process of an older version?)`);
  }
  return made;
}

/**
 * A consumer's filter (`filter_subject`, or `filter_subjects` on nats-server 2.10+) as one comparable
 * string, whichever way it is written; null when it has none.
 */
function filtersOf(config: Record<string, unknown>): string | null {
  const many = config['filter_subjects'];
  if (Array.isArray(many) && many.length > 0) return many.map(String).join(', ');
  const one = config['filter_subject'];
  return typeof one === 'string' && one !== '' ? one : null;
}

async function addOrFind(jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig> & { durable_name: string }): Promise<ConsumerInfo> {
  try {
    return await jsm.consumers.add(stream, config);
  } catch (addError) {
    // Another instance created it meanwhile.
    return jsm.consumers.info(stream, config.durable_name).catch(() => Promise.reject(addError));
  }
}
