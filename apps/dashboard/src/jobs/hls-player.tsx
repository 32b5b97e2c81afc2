import { useCallback, useEffect, useRef, useState } from 'react';
import type Hls from 'hls.js';
import { api } from '../api/api-client';
import { ErrorNote } from '../ui/components';

/** The artifact that says a job has an HLS output (the `hls` pipeline's master playlist). */
export const HLS_MASTER = 'master.m3u8';

/** One rendition the picker offers: its index among hls.js's levels, and its height. */
interface Rendition {
  level: number;
  height: number;
}

/** Auto: hls.js picks the rendition from the measured bandwidth. */
const AUTO = -1;

/**
 * A job's HLS output, played with hls.js (loaded only when a job has one) from the job's `hls_url`:
 * a media link whose token is in the path, so the playlists and the byte ranges of the renditions
 * they name open without the API key. A picker switches between Auto and each rendition's height
 * at once (the buffer ahead is dropped). When the link expires mid-play, a fresh one is asked for
 * and playback resumes where it was. Safari plays HLS itself, from the same URL.
 *
 * hls.js runs on the page's thread (`enableWorker: false`): the dashboard's Content-Security-Policy
 * allows scripts from this origin only, and hls.js would start its worker from a blob: URL.
 *
 * For tests and the curious, the wrapper carries `data-level` (the playing level, -1 before one) and
 * `data-height` (its height).
 */
export function HlsPlayer({ jobId }: { jobId: string }) {
  const video = useRef<HTMLVideoElement>(null);
  const hls = useRef<Hls | null>(null);
  const [link, setLink] = useState<{ url: string; expiresAt: number } | null>(null);
  const [renditions, setRenditions] = useState<Rendition[]>([]);
  const [chosen, setChosen] = useState(AUTO);
  const [playing, setPlaying] = useState<Rendition | null>(null);
  const [error, setError] = useState<unknown>(null);
  const resume = useRef<{ at: number; level: number } | null>(null);

  const renew = useCallback(() => {
    api.mediaLinks(jobId).then((links) => {
      if (links.hls_url) setLink({ url: links.hls_url, expiresAt: Date.parse(links.expires_at) });
      else setError(new Error('this job has no HLS output'));
    }, setError);
  }, [jobId]);

  useEffect(() => {
    setLink(null);
    setError(null);
    setRenditions([]);
    setPlaying(null);
    setChosen(AUTO);
    resume.current = null;
    renew();
  }, [renew]);

  useEffect(() => {
    const element = video.current;
    if (!link || !element) return;
    let cancelled = false;
    let player: Hls | null = null;
    void import('hls.js').then(({ default: HlsJs }) => {
      if (cancelled) return;
      if (!HlsJs.isSupported()) {
        if (element.canPlayType('application/vnd.apple.mpegurl')) element.src = link.url;
        else setError(new Error('this browser cannot play HLS (no Media Source Extensions)'));
        return;
      }
      const again = resume.current;
      player = new HlsJs({ enableWorker: false, startPosition: again?.at ?? -1 });
      hls.current = player;
      player.on(HlsJs.Events.MANIFEST_PARSED, (_event, data) => {
        const levels = data.levels.map((l, level) => ({ level, height: l.height })).filter((r) => r.height > 0);
        setRenditions(levels.sort((a, b) => a.height - b.height));
        if (again && again.level !== AUTO) player!.currentLevel = again.level;
      });
      player.on(HlsJs.Events.LEVEL_SWITCHED, (_event, data) => {
        setPlaying({ level: data.level, height: player!.levels[data.level]?.height ?? 0 });
      });
      player.on(HlsJs.Events.ERROR, (_event, data) => {
        if (!data.fatal) return;
        if (Date.now() >= link.expiresAt - 5_000) {
          // The link ran out: ask for a fresh one and carry on from here.
          resume.current = { at: element.currentTime, level: player!.manualLevel };
          renew();
          return;
        }
        setError(new Error(`playback failed: ${data.details}`));
      });
      player.loadSource(link.url);
      player.attachMedia(element);
    }, setError);
    return () => {
      cancelled = true;
      player?.destroy();
      if (hls.current === player) hls.current = null;
    };
  }, [link, renew]);

  const choose = (level: number) => {
    setChosen(level);
    // currentLevel switches now (dropping what is buffered ahead); -1 hands the choice back to hls.js.
    if (hls.current) hls.current.currentLevel = level;
  };

  return (
    <div className="hls-player" data-testid="hls-player" data-level={playing?.level ?? -1} data-height={playing?.height ?? 0}>
      <video ref={video} controls preload="metadata" data-testid="hls-video" />
      <div className="hls-controls">
        <label>
          Rendition{' '}
          <select value={chosen} onChange={(e) => choose(Number(e.target.value))} disabled={renditions.length === 0} data-testid="hls-rendition">
            <option value={AUTO}>Auto</option>
            {renditions.map((r) => (
              <option key={r.level} value={r.level}>
                {r.height}p
              </option>
            ))}
          </select>
        </label>{' '}
        {playing && <span className="muted" data-testid="hls-playing">playing {playing.height}p</span>}
      </div>
      <ErrorNote error={error} what="HLS" />
    </div>
  );
}
