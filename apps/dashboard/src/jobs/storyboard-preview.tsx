import { useEffect, useState, type RefObject } from 'react';
import type { JobMediaLinks } from '@app/contracts';
import { errorOf } from '../api/api-client';
import { ErrorNote } from '../ui/components';
import { clock } from '../ui/format';
import { parseStoryboard, tileAt, timeAtOffset, type StoryboardTile } from './storyboard';

/** The storyboard's artifact name, as the `thumbnails` tool writes it. */
export const STORYBOARD_ARTIFACT = 'storyboard.vtt';

/** Tiles wider than this are shown scaled down. */
const PREVIEW_MAX_WIDTH = 192;

interface Storyboard {
  tiles: StoryboardTile[];
  /** Object URLs of the sheets, by artifact name. */
  sheets: Map<string, string>;
}

/**
 * A seek bar under the job's video with a preview of the frame under the pointer, read from the
 * job's storyboard.vtt (the `thumbnails` tool's, also written by `analyze`): each cue names a tile of
 * a sprite sheet. The file and the sheets are fetched once, through the job's media links (no key
 * needed), the sheets kept as object URLs so the preview shows at once and outlives the link. The bar
 * follows the video and seeks it. Nothing is shown for a job without a storyboard.
 */
export function StoryboardPreview({ links, video }: { links: JobMediaLinks; video: RefObject<HTMLVideoElement | null> }) {
  const [board, setBoard] = useState<Storyboard | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [playback, setPlayback] = useState({ current: 0, duration: 0, width: 0 });
  const [hover, setHover] = useState<{ time: number; left: number; barWidth: number } | null>(null);
  const vtt = links.artifacts.find((a) => a.name === STORYBOARD_ARTIFACT) ?? null;

  useEffect(() => {
    setBoard(null);
    setError(null);
    if (!vtt) return;
    let cancelled = false;
    const objectUrls: string[] = [];
    const urls = new Map(links.artifacts.map((a) => [a.name, a.url]));
    const load = async (url: string) => {
      const res = await fetch(url);
      if (!res.ok) throw await errorOf(res);
      return res;
    };
    (async () => {
      const tiles = parseStoryboard(await (await load(vtt.url)).text(), new Set(urls.keys()));
      const sheets = new Map<string, string>();
      for (const name of new Set(tiles.map((t) => t.sheet))) {
        const objectUrl = URL.createObjectURL(await (await load(urls.get(name)!)).blob());
        objectUrls.push(objectUrl);
        sheets.set(name, objectUrl);
      }
      if (!cancelled) setBoard({ tiles, sheets });
    })().catch((e: unknown) => {
      if (!cancelled) setError(e);
    });
    return () => {
      cancelled = true;
      for (const url of objectUrls) URL.revokeObjectURL(url);
    };
    // The links change only when they are renewed (and the video element with them).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [links]);

  // Follow the video: its position, its length and its width on the page.
  useEffect(() => {
    const element = video.current;
    if (!element) return;
    const update = () => setPlayback({ current: element.currentTime, duration: Number.isFinite(element.duration) ? element.duration : 0, width: element.clientWidth });
    const events = ['timeupdate', 'durationchange', 'loadedmetadata', 'seeked', 'resize'] as const;
    for (const type of events) element.addEventListener(type, update);
    const resized = new ResizeObserver(update);
    resized.observe(element);
    update();
    return () => {
      for (const type of events) element.removeEventListener(type, update);
      resized.disconnect();
    };
  }, [video, links]);

  if (!vtt) return null;
  if (error !== null) return <ErrorNote error={error} what="Storyboard" />;
  if (!board || board.tiles.length === 0) return null;

  const duration = playback.duration || board.tiles.at(-1)!.end;
  const tile = hover ? tileAt(board.tiles, hover.time) : null;
  const scale = tile ? Math.min(1, PREVIEW_MAX_WIDTH / tile.width) : 1;
  const shownWidth = tile ? tile.width * scale : 0;

  return (
    <div className="storyboard" data-testid="storyboard" style={playback.width > 0 ? { width: playback.width } : undefined}>
      {hover && tile && (
        <div
          className="storyboard-preview"
          data-testid="storyboard-preview"
          data-sheet={tile.sheet}
          data-xywh={`${tile.x},${tile.y},${tile.width},${tile.height}`}
          data-time={hover.time.toFixed(2)}
          style={{ left: Math.max(0, Math.min(hover.left - shownWidth / 2, hover.barWidth - shownWidth)) }}
        >
          <div className="storyboard-frame" style={{ width: shownWidth, height: tile.height * scale }}>
            <div
              className="storyboard-tile"
              data-testid="storyboard-tile"
              style={{
                width: tile.width,
                height: tile.height,
                backgroundImage: `url("${board.sheets.get(tile.sheet)}")`,
                backgroundPosition: `-${tile.x}px -${tile.y}px`,
                transform: scale < 1 ? `scale(${scale})` : undefined,
              }}
            />
          </div>
          <span className="storyboard-time" data-testid="storyboard-time">
            {clock(hover.time)}
          </span>
        </div>
      )}
      <input
        type="range"
        className="storyboard-bar"
        data-testid="storyboard-bar"
        aria-label="Seek"
        min={0}
        max={duration}
        step="any"
        value={Math.min(playback.current, duration)}
        onChange={(e) => {
          const time = Number(e.currentTarget.value);
          if (video.current) video.current.currentTime = time;
          setPlayback((p) => ({ ...p, current: time }));
        }}
        onMouseMove={(e) => {
          const box = e.currentTarget.getBoundingClientRect();
          const left = e.clientX - box.left;
          setHover({ left, barWidth: box.width, time: timeAtOffset(left, box.width, duration) });
        }}
        onMouseLeave={() => setHover(null)}
      />
    </div>
  );
}
