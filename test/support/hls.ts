/**
 * HLS output for the tests of its serving: the test plugin (test/support/hls-fixture) that writes
 * one with a raw ffmpeg command, in the `hls` pipeline's file layout, loaded by path.
 */

/** FRAMEWIRE_PLUGINS for a gateway and a worker that know the `hls-fixture` pipeline. */
export const HLS_FIXTURE_PLUGIN = new URL('./hls-fixture/index.js', import.meta.url).pathname;

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
