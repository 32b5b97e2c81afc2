import { describe, expect, it } from '@jest/globals';
import { multipartBody } from './multipart.js';

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
  return chunks;
}

describe('a multipart upload body', () => {
  const video = new Blob([new Uint8Array(70_000).fill(7)], { type: 'video/mp4' });

  it('is what the Fetch API\'s own FormData parser reads back: the fields, then the file', async () => {
    const body = multipartBody([['pipeline', 'thumbnails'], ['params', '{"count":3}']], { name: 'clip "one".mp4', blob: video });
    const form = await new Response(body.stream(), { headers: { 'Content-Type': body.contentType } }).formData();
    expect(form.get('pipeline')).toBe('thumbnails');
    expect(form.get('params')).toBe('{"count":3}');
    const file = form.get('file') as File;
    expect([file.name, file.type, file.size]).toEqual(['clip "one".mp4', 'video/mp4', 70_000]);
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(new Uint8Array(70_000).fill(7));
  });

  it('says its length before it is sent, and reports each chunk as it is pulled, up to that length', async () => {
    const body = multipartBody([['priority', 'high']], { name: 'a.mp4', blob: video });
    const seen: Array<[number, number]> = [];
    const chunks = await collect(body.stream((sent, total) => seen.push([sent, total])));
    const bytes = chunks.reduce((n, c) => n + c.byteLength, 0);
    expect(bytes).toBe(body.length);
    expect(seen.length).toBe(chunks.length);
    expect(seen.at(-1)).toEqual([body.length, body.length]);
    expect(seen.every(([sent], i) => i === 0 || sent > seen[i - 1]![0])).toBe(true);
  });
});
