import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { truncateSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileTree, loadKeccak, SEGMENT_SIZE } from '../../protocol/storage/index.ts';
import { hashFile } from './hash-file.ts';
import { StorageClientErrorCode } from './node-rpc.ts';

describe('hashFile', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-hash-file-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('gives the same tree on this thread and on worker threads, whatever the size', async () => {
    const keccak = await loadKeccak();
    // Around the edges: one chunk, a partial segment, whole segments, and more than one worker job.
    for (const size of [1, 257, SEGMENT_SIZE, SEGMENT_SIZE + 1, 40 * SEGMENT_SIZE, 75 * SEGMENT_SIZE + 999]) {
      const bytes = randomBytes(size);
      const path = join(dir, `f-${size}`);
      await writeFile(path, bytes);
      const expected = fileTree(keccak, bytes);
      for (const threads of [0, 2]) {
        const tree = await hashFile({ path, threads });
        assert.equal(tree.rootHex, expected.rootHex, `${size} bytes, ${threads} threads`);
        assert.deepEqual(tree.segmentRoots, expected.segmentRoots);
        assert.deepEqual(tree.submission, expected.submission);
      }
    }
  });

  it('reports progress up to the whole file', async () => {
    const path = join(dir, 'progress');
    await writeFile(path, randomBytes(70 * SEGMENT_SIZE + 5));
    const seen: number[] = [];
    await hashFile({ path, threads: 2, onProgress: (p) => seen.push(p.done / p.total) });
    assert.equal(seen.at(-1), 1);
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
  });

  it('refuses an empty file', async () => {
    const path = join(dir, 'empty');
    await writeFile(path, '');
    await assert.rejects(hashFile({ path }), { code: StorageClientErrorCode.emptyFile });
  });

  it('fails, rather than hashing garbage, when the file shrinks while it is read', async () => {
    const path = join(dir, 'shrinks');
    await writeFile(path, randomBytes(80 * SEGMENT_SIZE));
    let cut = false;
    const shrink = () => {
      if (!cut) truncateSync(path, 10 * SEGMENT_SIZE);
      cut = true;
    };
    await assert.rejects(hashFile({ path, threads: 0, onProgress: shrink }), { code: StorageClientErrorCode.invalidInput });
  });
});
