/**
 * Waits until every URL answers 200 (the services' /health/ready), polling each until `timeoutMs`
 * has passed; true if all did. It tells the launcher when startup has ended.
 */
export async function waitUntilReady(urls: string[], timeoutMs: number, pollMs = 250): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const answers = (url: string) =>
    fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      (res) => (void res.body?.cancel(), res.status === 200),
      () => false,
    );
  const pending = new Set(urls);
  while (pending.size > 0) {
    for (const url of [...pending]) if (await answers(url)) pending.delete(url);
    if (pending.size === 0) break;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  return true;
}
