import { useRef, useState } from 'react';
import type { JobSubmitted } from '@app/contracts';
import { uploadJob } from '../api/upload';
import { linkProps } from '../router';
import { ErrorNote, Panel, ProgressBar } from '../ui/components';
import { bytes, shortId } from '../ui/format';
import { usePipelines } from './use-pipelines';

/** Upload a video as a new job, with a progress bar fed by the upload's own byte counts. */
export function UploadForm() {
  const pipelines = usePipelines();
  const [file, setFile] = useState<File | null>(null);
  const [pipeline, setPipeline] = useState('probe');
  const [params, setParams] = useState('');
  const [priority, setPriority] = useState<'high' | 'normal' | 'low'>('normal');
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [submitted, setSubmitted] = useState<JobSubmitted | null>(null);
  const abort = useRef<AbortController | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  const paramsError = (() => {
    if (!params.trim()) return null;
    try {
      const value: unknown = JSON.parse(params);
      return value && typeof value === 'object' && !Array.isArray(value) ? null : 'params must be a JSON object';
    } catch {
      return 'params is not valid JSON';
    }
  })();
  const selected = pipelines.list.find((p) => p.name === pipeline);
  const uploading = progress !== null && abort.current !== null;

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    if (!file || paramsError) return;
    setError(null);
    setSubmitted(null);
    setProgress(0);
    abort.current = new AbortController();
    try {
      const result = await uploadJob({ file, pipeline, params, priority }, setProgress, abort.current.signal);
      setSubmitted(result);
      setFile(null);
      if (fileInput.current) fileInput.current.value = '';
    } catch (e) {
      setError(e);
      setProgress(null);
    } finally {
      abort.current = null;
    }
  }

  return (
    <Panel title="Upload a video" testId="upload-panel">
      <form className="upload" onSubmit={submit}>
        <input ref={fileInput} type="file" accept="video/*,.mp4,.mov,.mkv,.webm" onChange={(e) => setFile(e.target.files?.[0] ?? null)} data-testid="upload-file" />
        <label>
          Pipeline{' '}
          {pipelines.list.length > 0 ? (
            <select value={pipeline} onChange={(e) => setPipeline(e.target.value)} data-testid="upload-pipeline">
              {pipelines.list.map((p) => (
                <option key={p.name} value={p.name} title={p.description}>
                  {p.name}
                </option>
              ))}
            </select>
          ) : (
            <input value={pipeline} onChange={(e) => setPipeline(e.target.value)} size={12} data-testid="upload-pipeline" />
          )}
        </label>
        <label>
          Priority{' '}
          <select value={priority} onChange={(e) => setPriority(e.target.value as 'high' | 'normal' | 'low')} data-testid="upload-priority">
            <option value="high">high</option>
            <option value="normal">normal</option>
            <option value="low">low</option>
          </select>
        </label>
        <label className="params">
          Params{' '}
          <input value={params} onChange={(e) => setParams(e.target.value)} placeholder='{"frame_stride": 10}' data-testid="upload-params" />
        </label>
        <button type="submit" disabled={!file || !!paramsError || uploading} data-testid="upload-submit">
          Upload
        </button>
        {uploading && (
          <button type="button" onClick={() => abort.current?.abort()}>
            Stop
          </button>
        )}
      </form>
      {selected?.description && <p className="muted">{selected.description}</p>}
      {paramsError && <p className="field-error">{paramsError}</p>}
      {file && <p className="muted">{`${file.name}, ${bytes(file.size)}`}</p>}
      {progress !== null && <ProgressBar value={progress * 100} label={progress >= 1 ? 'uploaded' : `${Math.round(progress * 100)}%`} testId="upload-progress" />}
      {submitted && (
        <p className="ok" data-testid="upload-result">
          Queued job{' '}
          <a {...linkProps(`/jobs/${submitted.job_id}`)}>
            <code>{shortId(submitted.job_id)}</code>
          </a>{' '}
          ({submitted.pipeline}, {submitted.priority})
        </p>
      )}
      <ErrorNote error={error} what="Upload" />
      {pipelines.error !== null && pipelines.list.length === 0 && <ErrorNote error={pipelines.error} what="Pipelines" />}
    </Panel>
  );
}
