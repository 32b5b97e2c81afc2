import { useEffect, useState } from 'react';
import { getApiKey, onApiKeyChange, setApiKey } from './api/api-key';
import { FeedProvider, useFeed } from './api/feed-context';
import { JobDetail } from './jobs/job-detail';
import { JobsPage } from './jobs/jobs-page';
import { DeadLettersPanel } from './ops/dead-letters-panel';
import { SystemPanel } from './ops/system-panel';
import { WorkersPanel } from './ops/workers-panel';
import { linkProps, useRoute } from './router';
import { UploadForm } from './upload/upload-form';
import { WebhooksPage } from './webhooks/webhooks-page';

export function App() {
  return (
    <FeedProvider>
      <Shell />
    </FeedProvider>
  );
}

function Shell() {
  const route = useRoute();
  return (
    <div className="shell">
      <header className="topbar">
        <a className="brand" {...linkProps('/')}>
          Framewire
        </a>
        <nav>
          <a {...linkProps('/')}>Jobs</a>
          <a {...linkProps('/webhooks')} data-testid="nav-webhooks">
            Webhooks
          </a>
          <a href="/docs" target="_blank" rel="noreferrer">
            API docs
          </a>
        </nav>
        <FeedIndicator />
        <ApiKeyControl />
      </header>
      <main className="layout">
        <div className="main-column">
          {route.page === 'job' ? (
            <JobDetail id={route.id} />
          ) : route.page === 'webhooks' ? (
            <WebhooksPage />
          ) : (
            <>
              <UploadForm />
              <JobsPage />
            </>
          )}
        </div>
        <aside className="side-column">
          <SystemPanel />
          <WorkersPanel />
          <DeadLettersPanel />
        </aside>
      </main>
    </div>
  );
}

function FeedIndicator() {
  const feed = useFeed();
  const label = feed.state === 'live' ? 'live' : feed.state === 'connecting' ? 'connecting…' : 'reconnecting…';
  return (
    <span className={`feed feed-${feed.state}`} data-testid="feed-state" title={feed.detail ?? 'live updates over Server-Sent Events'}>
      ● {label}
      {feed.detail && <span className="feed-detail"> ({feed.detail})</span>}
    </span>
  );
}

/** The API key, kept for this tab only (sessionStorage) and sent as `Authorization: Bearer`. */
function ApiKeyControl() {
  const [key, setKey] = useState(getApiKey());
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState('');
  useEffect(() => onApiKeyChange(() => setKey(getApiKey())), []);
  if (!editing) {
    return (
      <button type="button" className="key-button" data-testid="api-key" onClick={() => (setDraft(''), setEditing(true))}>
        {key ? 'API key ✓' : 'Set API key'}
      </button>
    );
  }
  return (
    <form
      className="key-form"
      onSubmit={(event) => {
        event.preventDefault();
        setApiKey(draft.trim() || null);
        setEditing(false);
      }}
    >
      <input type="password" autoFocus placeholder="API key" value={draft} onChange={(e) => setDraft(e.target.value)} aria-label="API key" />
      <button type="submit">Save</button>
      {key && (
        <button type="button" onClick={() => (setApiKey(null), setEditing(false))}>
          Forget
        </button>
      )}
      <button type="button" onClick={() => setEditing(false)}>
        Cancel
      </button>
    </form>
  );
}
