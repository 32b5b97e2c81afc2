import { EventSource } from 'eventsource';
import type { JobChange, JobView } from '@app/contracts';
import { authHeaders, errorFromResponse, GatewayError, getJson, gatewayUrl, type GatewayOptions } from '../gateway/gateway-client.js';

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
/**
 * A split job's events (issue #19): their change carries no progress, since the job's is the mean of
 * every part's, which only its view (GET /v1/jobs/{id}) holds. Read at most this often while they come.
 */
const SPLIT_CHANGES = new Set(['JobSplit', 'JoinRequested', 'PartStarted', 'PartProgressed', 'PartCompleted', 'PartFailed']);
const SPLIT_REREAD_MS = 1000;

/**
 * Follows one job until it ends, over the live feed (GET /v1/stream/jobs?job_id=…): once the feed
 * says `ready` the job is read once (so nothing between its submission and the feed is missed),
 * then each change updates it. Resolves with the final job as GET /v1/jobs/{id} shows it.
 */
export function followJob(options: GatewayOptions, jobId: string, onUpdate: (job: { status: string; progress: number; detail: string }) => void): Promise<JobView> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let lastSeq = 0;
    let shownProgress = 0;
    let reread: NodeJS.Timeout | null = null;
    const show = (update: { status: string; progress: number; detail: string }) => {
      shownProgress = update.progress;
      onUpdate(update);
    };
    const es = new EventSource(gatewayUrl(options, `v1/stream/jobs?job_id=${encodeURIComponent(jobId)}`).toString(), {
      fetch: async (input, init) => {
        const res = await fetch(input, { ...init, headers: { ...(init?.headers ?? {}), ...authHeaders(options) } });
        if (!res.ok) finish(await errorFromResponse(res.clone()));
        return res;
      },
    });
    const finish = (outcome: JobView | Error) => {
      if (settled) return;
      settled = true;
      if (reread) clearTimeout(reread);
      es.close();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const settleIfOver = async (status: string) => {
      if (!TERMINAL.has(status)) return;
      // The read model may trail the stream by a moment: read until it shows the end too.
      for (let i = 0; i < 50 && !settled; i++) {
        const view = await getJson<JobView>(options, `v1/jobs/${jobId}`);
        if (TERMINAL.has(view.status)) return finish(view);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    // The parts' mean, from the job's view, while it runs (its end is settleIfOver's to show).
    const readParts = () => {
      getJson<JobView>(options, `v1/jobs/${jobId}`).then(
        (view) => {
          reread = null;
          if (settled || view.status !== 'running') return;
          show({ status: view.status, progress: view.progress, detail: view.progress_detail?.current_tool ?? '' });
        },
        () => (reread = null),
      );
    };
    es.addEventListener('ready', () => {
      getJson<JobView>(options, `v1/jobs/${jobId}`).then(
        (view) => {
          lastSeq = Math.max(lastSeq, view.last_seq);
          show({ status: view.status, progress: view.progress, detail: view.progress_detail?.current_tool ?? '' });
          return settleIfOver(view.status);
        },
        (error: unknown) => finish(error instanceof Error ? error : new Error(String(error))),
      );
    });
    es.addEventListener('job', (event) => {
      const change = JSON.parse(event.data) as JobChange;
      if (change.seq <= lastSeq) return;
      lastSeq = change.seq;
      if (!change.status) return;
      // A change that does not say its progress (a part's, a final failure) leaves what was shown.
      show({ status: change.status, progress: change.progress ?? shownProgress, detail: change.error ? change.error.code : change.type });
      if (SPLIT_CHANGES.has(change.type) && !reread) reread = setTimeout(readParts, SPLIT_REREAD_MS);
      void settleIfOver(change.status).catch((error: unknown) => finish(error instanceof Error ? error : new Error(String(error))));
    });
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) finish(new GatewayError(0, 'UNREACHABLE', `the live feed of ${options.url} closed`));
    };
  });
}
