import { Command, Option } from 'commander';
import type { DeadLettersPage, DeadLetterView } from '@app/contracts';
import { call } from '@framewire/client';
import { clientFor, runAction, table, withGatewayOptions, type GatewayOptions } from '../gateway/gateway-client.js';

interface DlqListOptions extends GatewayOptions {
  limit: string;
  all: boolean;
}

/** `framewire dlq list`: the dead letters (jobs whose deliveries ran out), newest first. */
export function dlqCommand(): Command {
  const dlq = new Command('dlq').description('dead letters: jobs failed because their deliveries ran out (redrive one with `framewire redrive <jobId>`)');
  dlq.addCommand(
    withGatewayOptions(new Command('list').description('list the dead letters, most recently dead-lettered first'))
      .addOption(new Option('--limit <n>', 'at most this many (a page)').default('20'))
      .option('--all', 'every page, not just the first', false)
      .action(
        runAction(async (options: DlqListOptions) => {
          const letters: DeadLetterView[] = [];
          let cursor: string | null = null;
          do {
            const query = { limit: Number(options.limit), ...(cursor ? { cursor } : {}) };
            const page: DeadLettersPage = await call(clientFor(options).api.GET('/v1/dead-letters', { params: { query } }));
            letters.push(...page.dead_letters);
            cursor = options.all ? page.next_cursor : null;
          } while (cursor);
          if (options.json) {
            process.stdout.write(`${JSON.stringify({ dead_letters: letters })}\n`);
            return;
          }
          if (letters.length === 0) {
            process.stdout.write('no dead letters\n');
            return;
          }
          const rows = letters.map((d) => [d.job_id, d.tenant, d.pipeline, String(d.attempts), String(d.deliveries), d.last_worker_id ?? '-', d.dead_lettered_at, `${d.error.code}: ${d.error.message}`]);
          process.stdout.write(`${table(['JOB', 'TENANT', 'PIPELINE', 'ATTEMPTS', 'DELIVERIES', 'LAST WORKER', 'DEAD-LETTERED AT', 'ERROR'], rows)}\n`);
        }),
      ),
  );
  return dlq;
}
