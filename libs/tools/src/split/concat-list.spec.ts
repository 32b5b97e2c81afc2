import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { besideList, ffconcatList } from './concat-list.js';

describe('concat lists of parts', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'framewire-concat-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('names every file beside the list by a plain name: one already there as it is, one elsewhere linked in under the name given', async () => {
    await writeFile(join(dir, 'a.mp4'), 'A');
    const sub = await mkdtemp(join(dir, 'parts-'));
    await writeFile(join(sub, "it's here.mp4"), 'B');
    expect(await besideList(dir, join(dir, 'a.mp4'), 'unused.mp4')).toBe('a.mp4');
    expect(await besideList(dir, join(sub, "it's here.mp4"), 'joined-part-0001.mp4')).toBe('joined-part-0001.mp4');
    expect(await readFile(join(dir, 'joined-part-0001.mp4'), 'utf8')).toBe('B');
    await expect(besideList(dir, join(sub, "it's here.mp4"), '../escape.mp4')).rejects.toThrow(/plain file name/);
  });

  it('writes an ffconcat list with each part\'s length when it is given, to the microsecond', () => {
    expect(ffconcatList([{ name: 'a.mp4', durationSec: 2.0000004 }, { name: 'b.mp4' }])).toBe("ffconcat version 1.0\nfile 'a.mp4'\nduration 2.000000\nfile 'b.mp4'\n");
  });
});
