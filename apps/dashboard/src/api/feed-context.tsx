import { rememberDeleted } from '../jobs/jobs-list.state';
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import type { JobChange } from '@app/contracts';
import { onApiKeyChange } from './api-key';
import { followJobs, type FeedState } from './live-feed';

interface Feed {
  state: FeedState;
  detail: string | null;
  /** Bumps each time the feed becomes live: pages reload their snapshot then. */
  generation: number;
  subscribe(listener: (change: JobChange) => void): () => void;
}

const FeedContext = createContext<Feed | null>(null);

/** One live feed for the whole page, shared by the jobs list and the job detail. */
export function FeedProvider({ children }: { children: ReactNode }) {
  const listeners = useRef(new Set<(change: JobChange) => void>());
  const [state, setState] = useState<FeedState>('connecting');
  const [detail, setDetail] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const [keyVersion, setKeyVersion] = useState(0);

  useEffect(() => onApiKeyChange(() => setKeyVersion((v) => v + 1)), []);
  useEffect(
    () =>
      followJobs({
        onReady: () => setGeneration((g) => g + 1),
        onChange: (change) => {
          rememberDeleted(change);
          for (const listener of listeners.current) listener(change);
        },
        onState: (next, why) => {
          setState(next);
          setDetail(next === 'live' ? null : (why ?? null));
        },
      }),
    [keyVersion],
  );

  const feed: Feed = {
    state,
    detail,
    generation,
    subscribe(listener) {
      listeners.current.add(listener);
      return () => listeners.current.delete(listener);
    },
  };
  return <FeedContext.Provider value={feed}>{children}</FeedContext.Provider>;
}

export function useFeed(): Feed {
  const feed = useContext(FeedContext);
  if (!feed) throw new Error('useFeed outside FeedProvider');
  return feed;
}
