import { useCallback, useEffect, useRef, useState } from 'react';
import { api } from '../api/api-client';
import { useFeed } from '../api/feed-context';
import type { JobView } from '@app/contracts';
import { STATUSES } from '../api/types';
import { linkProps } from '../router';
import { ActionButton, ErrorNote, Panel, ProgressBar, StatusBadge } from '../ui/components';
import { ago, bytes, shortId } from '../ui/format';
import { usePipelines } from '../upload/use-pipelines';
import { applyChange, cancellable, shownStatus, withoutDeleted, type ListFilter } from './jobs-list.state';

const PAGE_SIZE = 20;

/**
 * The jobs list: newest first, filtered by status and pipeline, paged with the API's cursors, and
 * kept live by the feed. Each time the feed (re)connects, the page reloads its snapshot.
 */
export function JobsPage() {
  const feed = useFeed();
  const [filter, setFilter] = useState<ListFilter>({});
  // Cursors of the pages before this one; the current page's cursor is the last (null = first page).
  const [cursors, setCursors] = useState<Array<string | null>>([null]);
  const [rows, setRows] = useState<JobView[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const pipelines = usePipelines();
  const cursor = cursors[cursors.length - 1] ?? null;
  const firstPage = cursors.length === 1;
  const view = useRef({ filter, firstPage });
  view.current = { filter, firstPage };

  // Only the latest load may fill the table: an earlier one (another filter, say) that answers late
  // would otherwise put back rows that the current filter excludes.
  const latestLoad = useRef(0);
  const load = useCallback(async () => {
    const id = ++latestLoad.current;
    setLoading(true);
    try {
      const page = await api.listJobs({ ...filter, limit: PAGE_SIZE, cursor });
      if (id !== latestLoad.current) return;
      setRows(withoutDeleted(page.jobs));
      setNext(page.next_cursor);
      setError(null);
    } catch (e) {
      if (id === latestLoad.current) setError(e);
    } finally {
      if (id === latestLoad.current) setLoading(false);
    }
  }, [filter, cursor]);

  // Load on every filter or page change, and again each time the feed (re)connects.
  useEffect(() => void load(), [load, feed.generation]);

  useEffect(
    () =>
      feed.subscribe((change) =>
        setRows((current) => applyChange(current, change, view.current.filter, { firstPage: view.current.firstPage, limit: PAGE_SIZE })),
      ),
    [feed],
  );

  // The pipelines the API lists, else (before GET /v1/pipelines exists) those of the jobs seen.
  const seen = useRef(new Set<string>());
  for (const row of rows) seen.current.add(row.pipeline);
  const pipelineOptions = [...new Set([...pipelines.names, ...seen.current, ...(filter.pipeline ? [filter.pipeline] : [])])].sort();

  const setFilterField = (field: keyof ListFilter, value: string) => {
    setFilter((f) => ({ ...f, [field]: value || undefined }));
    setCursors([null]);
  };

  return (
    <Panel
      title="Jobs"
      testId="jobs-panel"
      actions={
        <div className="filters">
          <label>
            Status{' '}
            <select value={filter.status ?? ''} onChange={(e) => setFilterField('status', e.target.value)} data-testid="filter-status">
              <option value="">all</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label>
            Pipeline{' '}
            <select value={filter.pipeline ?? ''} onChange={(e) => setFilterField('pipeline', e.target.value)} data-testid="filter-pipeline">
              <option value="">all</option>
              {pipelineOptions.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
          <button type="button" onClick={() => void load()} disabled={loading}>
            Refresh
          </button>
        </div>
      }
    >
      <ErrorNote error={error} what="Jobs" />
      <table className="jobs" data-testid="jobs-table">
        <thead>
          <tr>
            <th>Job</th>
            <th>File</th>
            <th>Pipeline</th>
            <th>Status</th>
            <th className="wide">Progress</th>
            <th>Attempts</th>
            <th>Worker</th>
            <th>Submitted</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map((job) => (
            <tr key={job.job_id} data-testid="job-row" data-job-id={job.job_id} data-status={job.status}>
              <td>
                <a {...linkProps(`/jobs/${job.job_id}`)} title={job.job_id}>
                  <code>{shortId(job.job_id)}</code>
                </a>
              </td>
              <td title={`${job.video.filename} (${bytes(job.video.size)})`}>{job.video.filename}</td>
              <td>
                {job.pipeline}
                {job.priority !== 'normal' && <span className={`prio prio-${job.priority}`}>{job.priority}</span>}
              </td>
              <td>
                <StatusBadge status={shownStatus(job)} />
                {job.error && <div className="row-error" title={job.error.message}>{job.error.code}</div>}
              </td>
              <td className="wide">
                <ProgressBar value={job.progress} testId="row-progress" />
              </td>
              <td>{job.attempts}</td>
              <td>{job.worker_id ?? '–'}</td>
              <td title={job.created_at}>{ago(job.created_at)}</td>
              <td>{cancellable(job) ? <ActionButton label="Cancel" kind="danger" run={() => api.cancel(job.job_id)} testId="cancel" /> : null}</td>
            </tr>
          ))}
          {rows.length === 0 && !loading && (
            <tr>
              <td colSpan={9} className="empty">
                No jobs{filter.status || filter.pipeline ? ' match this filter' : ' yet: upload a video above'}.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <div className="pager">
        <button type="button" disabled={firstPage} onClick={() => setCursors((c) => c.slice(0, -1))} data-testid="page-prev">
          ← Newer
        </button>
        <span>Page {cursors.length}</span>
        <button type="button" disabled={!next} onClick={() => setCursors((c) => [...c, next])} data-testid="page-next">
          Older →
        </button>
      </div>
    </Panel>
  );
}
