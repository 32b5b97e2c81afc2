import { useCallback, useEffect, useRef, useState } from 'react';
import { api, apiFetch, fetchObjectUrl } from '../api/api-client';
import { useFeed } from '../api/feed-context';
import type { ArtifactView, JobMediaLinks, JobView, StoredEventView } from '@app/contracts';
import { linkProps, navigate } from '../router';
import { ActionButton, ErrorNote, Panel, ProgressBar, StatusBadge } from '../ui/components';
import { ago, bytes, duration, time } from '../ui/format';
import { cancellable, shownStatus } from './jobs-list.state';
import { HLS_MASTER, HlsPlayer } from './hls-player';
import { StoryboardPreview } from './storyboard-preview';
import { PartsRow } from './parts-row';
import { traceLink } from './trace-link';
import { useDashboardSettings } from '../api/use-dashboard-settings';

/**
 * One job: its state, its timeline (the events, read from the stream), its error or result, its
 * thumbnails and its video; cancel while it runs, redrive when it failed, delete (after the operator
 * confirms: the video and every file go for good). Live: every change the
 * feed reports for this job reloads the state and appends the new events.
 */
export function JobDetail({ id }: { id: string }) {
  const feed = useFeed();
  const [job, setJob] = useState<JobView | null>(null);
  const [events, setEvents] = useState<StoredEventView[]>([]);
  const [error, setError] = useState<unknown>(null);
  // The uploaded video's duration in seconds, once its player has read it: the last part's end.
  const [videoDuration, setVideoDuration] = useState<number | null>(null);
  const lastSeq = useRef(0);
  const shownId = useRef(id);
  shownId.current = id;

  const refresh = useCallback(async () => {
    try {
      const [view, page] = await Promise.all([api.getJob(id), api.jobEvents(id, lastSeq.current)]);
      // An answer for a job no longer shown, or older than what is shown (two refreshes crossed), is dropped.
      if (shownId.current !== id) return;
      setJob((current) => (current && current.job_id === id && current.last_seq > view.last_seq ? current : view));
      if (page.events.length > 0) {
        lastSeq.current = Math.max(lastSeq.current, page.events.at(-1)!.seq);
        setEvents((current) => [...current, ...page.events.filter((e) => !current.some((c) => c.seq === e.seq))].sort((a, b) => a.seq - b.seq));
      }
      setError(null);
    } catch (e) {
      if (shownId.current === id) setError(e);
    }
  }, [id]);

  useEffect(() => {
    lastSeq.current = 0;
    setEvents([]);
    setJob(null);
    setVideoDuration(null);
  }, [id]);
  useEffect(() => void refresh(), [refresh, feed.generation]);
  useEffect(() => feed.subscribe((change) => change.job_id === id && void refresh()), [feed, id, refresh]);

  return (
    <>
      <p>
        <a {...linkProps('/')}>← All jobs</a>
      </p>
      <Panel
        title={`Job ${id}`}
        testId="job-detail"
        actions={
          job && (
            <div className="actions">
              {cancellable(job) && <ActionButton label="Cancel job" kind="danger" run={() => api.cancel(id).then(refresh)} testId="detail-cancel" />}
              {(job.status === 'failed' || job.status === 'cancelled') && <ActionButton label="Retry (redrive)" run={() => api.retry(id).then(refresh)} testId="detail-retry" />}
              <ActionButton label="Delete job" kind="danger" run={() => deleteJob(id)} testId="detail-delete" />
            </div>
          )
        }
      >
        <ErrorNote error={error} what="Job" />
        {job && <JobSummary job={job} videoDuration={videoDuration} />}
      </Panel>
      {job?.error && (
        <Panel title="Error" testId="job-error">
          <p>
            <code>{job.error.code}</code> {job.error.message}
          </p>
        </Panel>
      )}
      <Panel title="Timeline" testId="timeline">
        <Timeline events={events} />
      </Panel>
      {job?.status === 'completed' && <ResultPanel job={job} />}
      {job && <MediaPanel job={job} onDuration={setVideoDuration} />}
    </>
  );
}

function JobSummary({ job, videoDuration }: { job: JobView; videoDuration: number | null }) {
  const detail = job.progress_detail;
  const traceUrl = traceLink(useDashboardSettings().trace_link, job.trace_id);
  return (
    <div className="summary">
      <dl>
        <dt>Status</dt>
        <dd data-testid="detail-status">
          <StatusBadge status={shownStatus(job)} />
        </dd>
        <dt>Progress</dt>
        <dd>
          <ProgressBar value={job.progress} testId="detail-progress" />
          {detail && (
            <span className="muted">
              {detail.current_tool ? `${detail.current_tool}: ` : ''}frame {detail.current_frame}
              {detail.total_frames !== null ? ` of ${detail.total_frames}` : ''}, tool {detail.tools_completed + (job.status === 'running' ? 1 : 0)} of {detail.tools_total}
            </span>
          )}
        </dd>
        {job.parts.length > 0 && (
          <>
            <dt>Parts</dt>
            <dd>
              <PartsRow job={job} duration={videoDuration} />
            </dd>
          </>
        )}
        <dt>Pipeline</dt>
        <dd>
          {job.pipeline} <span className="muted">({job.priority} priority)</span>
        </dd>
        <dt>Params</dt>
        <dd>
          <code>{JSON.stringify(job.params)}</code>
        </dd>
        <dt>Video</dt>
        <dd>
          {job.video.filename} <span className="muted">({bytes(job.video.size)}, {job.video.content_type || 'unknown type'})</span>
        </dd>
        <dt>Attempts</dt>
        <dd>{job.attempts}</dd>
        <dt>Worker</dt>
        <dd>{job.worker_id ?? '–'}</dd>
        <dt>Submitted</dt>
        <dd title={job.created_at}>{ago(job.created_at)}</dd>
        <dt>Run time</dt>
        <dd>{duration(job.duration_ms)}</dd>
        <dt>Correlation id</dt>
        <dd>
          <code>{job.correlation_id}</code>
        </dd>
        <dt>Trace id</dt>
        <dd data-testid="detail-trace">
          {traceUrl ? (
            <a href={traceUrl} target="_blank" rel="noreferrer" data-testid="detail-trace-link">
              <code>{job.trace_id}</code>
            </a>
          ) : job.trace_id ? (
            <code>{job.trace_id}</code>
          ) : (
            <span className="muted">none (tracing was off)</span>
          )}
        </dd>
      </dl>
    </div>
  );
}

function Timeline({ events }: { events: StoredEventView[] }) {
  if (events.length === 0) return <p className="muted">No events yet.</p>;
  return (
    <ol className="timeline" data-testid="timeline-list">
      {events.map((event) => (
        <li key={event.seq} className={`tl tl-${event.type}`} data-testid="timeline-event" data-type={event.type}>
          <span className="tl-time" title={event.occurredAt}>
            {time(event.occurredAt)}
          </span>
          <strong className="tl-type">{event.type}</strong>
          <span className="muted">
            v{event.version} · seq {event.seq}
          </span>
          <EventSummary event={event} />
          <details>
            <summary>data</summary>
            <pre>{JSON.stringify(event.data, null, 2)}</pre>
          </details>
        </li>
      ))}
    </ol>
  );
}

function EventSummary({ event }: { event: StoredEventView }) {
  const d = event.data as Record<string, any>;
  switch (event.type) {
    case 'VideoSubmitted':
      return <span>{`${d['pipeline']} · ${d['video']?.filename ?? ''} · ${d['priority'] ?? 'normal'}`}</span>;
    case 'JobStarted':
      return <span>{`attempt ${d['attempt']} on ${d['workerId']}`}</span>;
    case 'JobProgressed':
      return <span>{`${Math.round(d['percent'])}%${d['currentTool'] ? ` · ${d['currentTool']}` : ''}`}</span>;
    case 'JobCompleted':
      return <span>{`attempt ${d['attempt']} in ${duration(d['durationMs'])}`}</span>;
    case 'JobFailed':
      return <span className="fail">{`attempt ${d['attempt']}${d['final'] ? ' (final)' : ''}: ${d['error']?.code} ${d['error']?.message ?? ''}`}</span>;
    case 'JobSplit':
      return <span>{`${d['parts']?.length} parts of about ${d['splitSeconds']} s${d['kept']?.length ? `, ${d['kept'].length} kept` : ''}`}</span>;
    case 'PartStarted':
      return <span>{`part ${d['index']}, its attempt ${d['partAttempt']}, on ${d['workerId']}`}</span>;
    case 'PartProgressed':
      return <span>{`part ${d['index']} at ${Math.round(d['percent'])}%`}</span>;
    case 'PartCompleted':
      return <span>{`part ${d['index']} in ${duration(d['durationMs'])} on ${d['workerId']}`}</span>;
    case 'PartFailed':
      return <span className="fail">{`part ${d['index']}, its attempt ${d['partAttempt']}${d['final'] ? ' (final)' : ''}: ${d['error']?.code} ${d['error']?.message ?? ''}`}</span>;
    default:
      return null;
  }
}

function ResultPanel({ job }: { job: JobView }) {
  const [result, setResult] = useState<unknown>(job.result);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (job.result_location !== 'object_store') return setResult(job.result);
    api.jobResult(job.job_id).then(setResult, setError);
  }, [job.job_id, job.result, job.result_location]);
  return (
    <Panel title="Result" testId="result">
      <ErrorNote error={error} what="Result" />
      <pre className="result">{JSON.stringify(result, null, 2)}</pre>
    </Panel>
  );
}

/** Thumbnails (image artifacts, fetched with the key) and the uploaded video. */
function MediaPanel({ job, onDuration }: { job: JobView; onDuration: (seconds: number) => void }) {
  const [artifacts, setArtifacts] = useState<ArtifactView[]>(job.artifacts);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (job.status !== 'completed') return;
    api.artifacts(job.job_id).then(setArtifacts, (e: unknown) => {
      setArtifacts(job.artifacts);
      setError(e);
    });
  }, [job.job_id, job.status, job.artifacts]);
  const images = artifacts.filter((a) => a.content_type.startsWith('image/'));
  const others = artifacts.filter((a) => !a.content_type.startsWith('image/'));
  return (
    <Panel title="Media" testId="media">
      <h3>Thumbnails</h3>
      {error !== null && <ErrorNote error={error} what="Artifacts" />}
      {images.length === 0 ? (
        <p className="muted">No thumbnails{job.status === 'completed' ? ' for this pipeline' : ' yet'}.</p>
      ) : (
        <div className="gallery" data-testid="gallery">
          {images.map((a) => (
            <Thumbnail key={a.name} jobId={job.job_id} artifact={a} />
          ))}
        </div>
      )}
      {others.length > 0 && (
        <ul className="artifacts">
          {others.map((a) => (
            <li key={a.name}>
              <ArtifactLink jobId={job.job_id} artifact={a} />
            </li>
          ))}
        </ul>
      )}
      {artifacts.some((a) => a.name === HLS_MASTER) && (
        <>
          <h3>HLS</h3>
          <HlsPlayer jobId={job.job_id} />
        </>
      )}
      <h3>Video</h3>
      {/* Remounted when the job completes: its media links then list the artifacts (the storyboard). */}
      <VideoPlayer jobId={job.job_id} key={job.status === 'completed' ? 'completed' : 'pending'} onDuration={onDuration} />
    </Panel>
  );
}

function Thumbnail({ jobId, artifact }: { jobId: string; artifact: ArtifactView }) {
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let objectUrl: string | null = null;
    fetchObjectUrl(api.artifactPath(jobId, artifact.name)).then((u) => setUrl((objectUrl = u)), setError);
    return () => {
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [jobId, artifact.name]);
  if (error) return <ErrorNote error={error} what={artifact.name} />;
  return <figure>{url ? <img src={url} alt={artifact.name} loading="lazy" /> : <div className="thumb-placeholder" />}<figcaption>{artifact.name}</figcaption></figure>;
}

function ArtifactLink({ jobId, artifact }: { jobId: string; artifact: ArtifactView }) {
  const [error, setError] = useState<unknown>(null);
  return (
    <>
      <button
        type="button"
        className="link"
        onClick={() =>
          fetchObjectUrl(api.artifactPath(jobId, artifact.name)).then((url) => {
            const a = document.createElement('a');
            a.href = url;
            a.download = artifact.name;
            a.click();
            setTimeout(() => URL.revokeObjectURL(url), 10_000);
          }, setError)
        }
      >
        {artifact.name}
      </button>{' '}
      <span className="muted">
        {artifact.content_type}, {bytes(artifact.size)}
      </span>
      <ErrorNote error={error} />
    </>
  );
}

/**
 * The uploaded video, streamed with Range requests by the browser itself. A <video> cannot send an
 * Authorization header, so it plays from the job's media link (a signed URL asked for with the key,
 * valid for minutes). When the link has expired, a fresh one is asked for and playback resumes where
 * it was; for any other failure the reason is read from a 1-byte request that sends the key. Under
 * it, a seek bar with storyboard previews when the job has a storyboard (storyboard-preview.tsx).
 */
function VideoPlayer({ jobId, onDuration }: { jobId: string; onDuration: (seconds: number) => void }) {
  const [error, setError] = useState<unknown>(null);
  const [link, setLink] = useState<{ src: string; expiresAt: number; links: JobMediaLinks } | null>(null);
  const resumeAt = useRef(0);
  const video = useRef<HTMLVideoElement>(null);

  const renew = useCallback(() => {
    api.mediaLinks(jobId).then((links) => setLink({ src: links.video_url, expiresAt: Date.parse(links.expires_at), links }), setError);
  }, [jobId]);
  useEffect(() => {
    setLink(null);
    setError(null);
    resumeAt.current = 0;
    renew();
  }, [renew]);

  const onError = () => {
    if (link && Date.now() >= link.expiresAt - 5_000) {
      resumeAt.current = video.current?.currentTime ?? 0;
      renew();
      return;
    }
    apiFetch(api.videoPath(jobId), { headers: { Range: 'bytes=0-0' } }).then(() => setError(new Error('the browser cannot play this video')), setError);
  };

  return (
    <>
      {error === null && link && (
        <video
          key={link.src}
          ref={video}
          controls
          preload="metadata"
          src={link.src}
          data-testid="video"
          onLoadedMetadata={(e) => {
            if (Number.isFinite(e.currentTarget.duration)) onDuration(e.currentTarget.duration);
            if (resumeAt.current > 0) e.currentTarget.currentTime = resumeAt.current;
          }}
          onError={onError}
        />
      )}
      {error === null && link && <StoryboardPreview links={link.links} video={video} />}
      <ErrorNote error={error} what="Video" />
    </>
  );
}

/**
 * Deletes the job once the operator confirms, then goes back to the list: a job that was running is
 * stopped first and leaves the list when its deletion is stored.
 */
async function deleteJob(id: string): Promise<void> {
  if (!window.confirm('Delete this job? Its video, results and files are removed for good; its events stay in the log.')) return;
  await api.deleteJob(id);
  navigate('/');
}
