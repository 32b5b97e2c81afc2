/** Helpers for the tests of serving a job's HLS output and storyboard. */

/**
 * FRAMEWIRE_PLUGINS for a gateway and a worker that know the `storyboard-fixture` pipeline: a test
 * plugin (test/support/storyboard-fixture) that writes storyboard.vtt and sprite-001.jpg as the
 * thumbnails pipeline's storyboard is laid out.
 */
export const STORYBOARD_FIXTURE_PLUGIN = new URL('./storyboard-fixture/index.js', import.meta.url).pathname;

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
