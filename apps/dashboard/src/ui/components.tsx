import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { ApiError } from '../api/api-client';
import { onApiKeyChange } from '../api/api-key';

export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge badge-${status}`} data-testid="status">
      {status}
    </span>
  );
}

export function ProgressBar({ value, label, testId }: { value: number; label?: string; testId?: string }) {
  const pct = Math.max(0, Math.min(100, value));
  return (
    <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)} data-testid={testId}>
      <div className="progress-fill" style={{ width: `${pct}%` }} />
      <span className="progress-label">{label ?? `${Math.round(pct)}%`}</span>
    </div>
  );
}

/** What an API error means for the operator: the code, the message, and what to do about a missing key or route. */
export function ErrorNote({ error, what }: { error: unknown; what?: string }) {
  if (!error) return null;
  const api = error instanceof ApiError ? error : null;
  const code = api?.code ?? 'ERROR';
  let hint = '';
  if (api?.status === 401) hint = 'Enter an API key (top right).';
  else if (api?.status === 403) hint = 'This needs an admin key.';
  else if (code === 'NOT_FOUND' || code === 'HTTP_404') hint = 'This gateway does not serve that route (yet).';
  else if (code === 'SERVICE_UNAVAILABLE' || code === 'NETWORK') hint = 'Retrying.';
  return (
    <div className="error-note" role="alert" data-testid="error-note">
      <strong>{what ? `${what}: ` : ''}</strong>
      <code>{code}</code> {error instanceof Error ? error.message : String(error)}
      {hint && <span className="hint"> {hint}</span>}
    </div>
  );
}

export function Panel({ title, children, actions, testId }: { title: string; children: ReactNode; actions?: ReactNode; testId?: string }) {
  return (
    <section className="panel" data-testid={testId}>
      <header className="panel-head">
        <h2>{title}</h2>
        {actions}
      </header>
      <div className="panel-body">{children}</div>
    </section>
  );
}

/** Loads `load` now and every `intervalMs`; keeps the last good data while an error is shown. */
export function usePolling<T>(load: () => Promise<T>, intervalMs: number, deps: unknown[] = []) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const loadRef = useRef(load);
  loadRef.current = load;
  const reload = useCallback(async () => {
    try {
      setData(await loadRef.current());
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, []);
  useEffect(() => {
    void reload();
    const timer = setInterval(() => void reload(), intervalMs);
    // A new key answers differently (a panel that said UNAUTHENTICATED, or another tenant's view): at once.
    const forget = onApiKeyChange(() => void reload());
    return () => {
      clearInterval(timer);
      forget();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [reload, intervalMs, ...deps]);
  return { data, error, reload };
}

/** A button that runs an async action, shows it is busy, and reports the outcome under itself. */
export function ActionButton({ label, run, testId, kind = 'normal' }: { label: string; run: () => Promise<unknown>; testId?: string; kind?: 'normal' | 'danger' }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  return (
    <span className="action">
      <button
        type="button"
        className={kind === 'danger' ? 'danger' : undefined}
        disabled={busy}
        data-testid={testId}
        onClick={async () => {
          setBusy(true);
          setError(null);
          setDone(false);
          try {
            await run();
            setDone(true);
          } catch (e) {
            setError(e);
          } finally {
            setBusy(false);
          }
        }}
      >
        {busy ? '…' : label}
      </button>
      {done && <span className="ok">done</span>}
      <ErrorNote error={error} />
    </span>
  );
}
