import { useEffect, useState } from 'react';

export type Route = { page: 'jobs' } | { page: 'job'; id: string } | { page: 'webhooks' };

/**
 * `/` is the jobs page, `/jobs/<id>` a job, `/webhooks` the webhook endpoints: plain history
 * routing, served by the gateway. Any other path shows the jobs.
 */
export function parseRoute(path: string): Route {
  const match = /^\/jobs\/([0-9a-fA-F-]{36})\/?$/.exec(path);
  if (match) return { page: 'job', id: match[1]!.toLowerCase() };
  if (/^\/webhooks\/?$/.test(path)) return { page: 'webhooks' };
  return { page: 'jobs' };
}

export function navigate(path: string): void {
  if (path === window.location.pathname) return;
  window.history.pushState(null, '', path);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.pathname));
  useEffect(() => {
    const onPop = () => setRoute(parseRoute(window.location.pathname));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  return route;
}

/** An in-app link: a real <a href> (open in new tab works), handled without a reload. */
export function linkProps(path: string) {
  return {
    href: path,
    onClick: (event: { preventDefault(): void; metaKey: boolean; ctrlKey: boolean; shiftKey: boolean; button: number }) => {
      if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      navigate(path);
    },
  };
}
