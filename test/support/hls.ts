/** Helpers for the tests of serving a job's HLS output. */

/** The URIs a playlist names (its non-comment lines, and the URI="…" of its tags), in order, without repeats. */
export function playlistUris(text: string): string[] {
  const uris = text.split('\n').flatMap((line) => {
    const l = line.trim();
    if (l === '') return [];
    if (!l.startsWith('#')) return [l];
    const quoted = /URI="([^"]+)"/.exec(l);
    return quoted ? [quoted[1]!] : [];
  });
  return [...new Set(uris)];
}
