import { cliEnvSchema, parseConfig } from '@app/config';
import { jobSubjects, KeyQuery } from '@app/contracts';
import { connectNats, inboxPrefixOf, type NatsIdentity } from '@app/nats';

/**
 * Waits until the jobs service answers over request/reply (a key lookup that finds nothing). The
 * gateway is started after that: it asks the jobs service to verify every key, so a gateway that
 * answered before it would turn a newcomer's first requests into 503s.
 */
export async function waitForJobsService(natsUrl: string, credentials: Pick<NatsIdentity, 'user' | 'pass'>, timeoutMs = 120_000): Promise<void> {
  const config = parseConfig(cliEnvSchema, process.env);
  const subject = jobSubjects(config.FRAMEWIRE_NAMESPACE).rpc(KeyQuery.Verify);
  // It asks what the gateway will ask, as the gateway would (its user, where the server has users).
  const nc = await connectNats(natsUrl, 'framewire-start', { ...credentials, inboxPrefix: inboxPrefixOf('gateway') });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        // Nest's NATS transport expects its packet shape: {pattern, data, id}.
        await nc.request(subject, JSON.stringify({ pattern: KeyQuery.Verify, data: { key_hash: '0'.repeat(64) }, id: 'framewire-start' }), { timeout: 1000 });
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`the jobs service did not answer within ${timeoutMs / 1000} s: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  } finally {
    await nc.close();
  }
}
