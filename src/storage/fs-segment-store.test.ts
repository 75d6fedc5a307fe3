import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isLevityError } from '../protocol/errors.ts';
import { CHUNK_SIZE, SEGMENT_SIZE, chunkCount, segmentCount, segmentDataLength } from '../protocol/storage/index.ts';
import { fsSegmentStore } from './fs-segment-store.ts';
import type { SegmentStore } from './fs-segment-store.ts';

/** Deterministic, position-dependent bytes, so a misplaced segment cannot read back equal. */
function fileBytes(size: number, salt = 1): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = salt * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

/** Segment `index` as an uploader sends it: cut to its data length, the last chunk zero-filled. */
function uploadSegment(file: Uint8Array, index: number): Uint8Array {
  const out = new Uint8Array(segmentDataLength(file.length, index));
  out.set(file.subarray(index * SEGMENT_SIZE, Math.min(file.length, (index + 1) * SEGMENT_SIZE)));
  return out;
}

/** What a download of chunks [start, end) must return: the file's bytes, zero past its end. */
function expectedChunks(file: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array((end - start) * CHUNK_SIZE);
  out.set(file.subarray(start * CHUNK_SIZE, Math.min(file.length, end * CHUNK_SIZE)));
  return out;
}

async function writeFile(store: SegmentStore, seq: number, file: Uint8Array, order?: number[]): Promise<void> {
  const indexes = order ?? [...Array(segmentCount(file.length)).keys()];
  for (const index of indexes) await store.write(seq, index, uploadSegment(file, index));
}

function hasCode(code: string) {
  return (error: unknown) => isLevityError(error) && error.code === code;
}

describe('fsSegmentStore', () => {
  let dir: string;
  let store: SegmentStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-segments-'));
    store = fsSegmentStore({ dir: join(dir, 'segments') });
  });

  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads back segments written out of order, including the short last one', async () => {
    const size = 3 * SEGMENT_SIZE + 1000; // 4 segments, the last one 1024 B (4 chunks)
    const file = fileBytes(size);
    await writeFile(store, 7, file, [3, 1, 0, 2]);

    for (let index = 0; index < 4; index++) {
      assert.deepEqual(await store.readSegment(7, size, index), uploadSegment(file, index), `segment ${index}`);
    }
    assert.equal((await store.readSegment(7, size, 3)).length, 1024);

    const chunks = chunkCount(size);
    // The ranges the SDK asks for, plus ones that straddle segment boundaries.
    for (const [start, end] of [
      [0, 1024],
      [1024, 2048],
      [2048, 3072],
      [3072, chunks],
      [1000, 1030],
      [5, 6],
      [chunks - 1, chunks],
    ] as const) {
      assert.deepEqual(await store.readChunks(7, size, start, end), expectedChunks(file, start, end), `[${start}, ${end})`);
    }
    assert.equal((await stat(join(dir, 'segments', '7.dat'))).size, 3 * SEGMENT_SIZE + 1024);
  });

  it('writes neighbouring segments of one buffer as a run, unflushed until asked, and reads runs back', async () => {
    const size = 5 * SEGMENT_SIZE + 300;
    const file = fileBytes(size, 9);
    // Segments 1..5 as one binary batch lays them out: side by side in a single buffer.
    const batch = new Uint8Array(4 * SEGMENT_SIZE + segmentDataLength(size, 5));
    batch.set(file.subarray(SEGMENT_SIZE));
    const views = [1, 2, 3, 4, 5].map((index) => ({ index, data: batch.subarray((index - 1) * SEGMENT_SIZE, (index - 1) * SEGMENT_SIZE + segmentDataLength(size, index)) }));
    await store.writeMany(3, [{ index: 0, data: uploadSegment(file, 0) }, ...views], { sync: false });
    await store.flush(3);
    const all = new Uint8Array(5 * SEGMENT_SIZE + segmentDataLength(size, 5));
    await store.readRun(3, size, 0, 6, all);
    assert.deepEqual(all.subarray(0, size), file);
    assert.ok(all.subarray(size).every((byte) => byte === 0), 'the last chunk is zero past the end of the file');
    const middle = new Uint8Array(2 * SEGMENT_SIZE).fill(0xee);
    await store.readRun(3, size, 2, 2, middle);
    assert.deepEqual(middle, file.subarray(2 * SEGMENT_SIZE, 4 * SEGMENT_SIZE));
    await assert.rejects(store.readRun(3, size, 5, 2, new Uint8Array(10)), hasCode('STORAGE_INDEX_OUT_OF_BOUND'));
    await assert.rejects(store.readRun(3, size, 0, 1, new Uint8Array(10)), hasCode('STORAGE_INVALID_DATA_LENGTH'));
    await assert.rejects(store.flush(99), hasCode('STORAGE_FILE_MISSING'));
  });

  it('returns the last chunk zero-padded to 256 bytes', async () => {
    for (const size of [1, 255, 257, 600000]) {
      const file = fileBytes(size, size);
      await writeFile(store, size, file);
      const chunks = chunkCount(size);
      const last = await store.readChunks(size, size, chunks - 1, chunks);
      assert.equal(last.length, CHUNK_SIZE);
      const tail = size - (chunks - 1) * CHUNK_SIZE;
      assert.deepEqual(last.subarray(0, tail), file.subarray(size - tail));
      assert.ok(last.subarray(tail).every((byte) => byte === 0), `padding of ${size}`);
      const segment = await store.readSegment(size, size, segmentCount(size) - 1);
      assert.equal(segment.length % CHUNK_SIZE, 0);
      assert.deepEqual(segment, uploadSegment(file, segmentCount(size) - 1));
    }
  });

  it('reads holes of a sparse file as zeros', async () => {
    const size = 2 * SEGMENT_SIZE;
    const file = fileBytes(size);
    await store.write(1, 1, uploadSegment(file, 1));
    assert.deepEqual(await store.readSegment(1, size, 0), new Uint8Array(SEGMENT_SIZE));
    assert.deepEqual(await store.readSegment(1, size, 1), uploadSegment(file, 1));
  });

  it('copies a submission to another seq', async () => {
    const size = 2 * SEGMENT_SIZE + 300;
    const file = fileBytes(size);
    await writeFile(store, 4, file);
    // A partial upload already in the target is overwritten.
    await store.write(9, 0, fileBytes(SEGMENT_SIZE, 99));
    await store.copy(4, 9);
    for (let index = 0; index < segmentCount(size); index++) {
      assert.deepEqual(await store.readSegment(9, size, index), uploadSegment(file, index));
    }
    assert.deepEqual(await store.readChunks(9, size, 0, chunkCount(size) - 2048), expectedChunks(file, 0, chunkCount(size) - 2048));
    assert.equal((await stat(join(dir, 'segments', '9.dat'))).size, (await stat(join(dir, 'segments', '4.dat'))).size);
    // The source is untouched.
    assert.deepEqual(await store.readSegment(4, size, 2), uploadSegment(file, 2));
  });

  it('copies a file larger than one copy block', async () => {
    const size = 20 * SEGMENT_SIZE + 5;
    const file = fileBytes(size, 3);
    await writeFile(store, 0, file);
    await store.copy(0, 1);
    for (const index of [0, 15, 16, 19, 20]) {
      assert.deepEqual(await store.readSegment(1, size, index), uploadSegment(file, index), `segment ${index}`);
    }
  });

  it('survives 32 concurrent segment writes to one file', async () => {
    const size = 31 * SEGMENT_SIZE + 777; // 32 segments
    const file = fileBytes(size, 5);
    await Promise.all([...Array(32).keys()].reverse().map((index) => store.write(2, index, uploadSegment(file, index))));
    for (let index = 0; index < 32; index++) {
      assert.deepEqual(await store.readSegment(2, size, index), uploadSegment(file, index), `segment ${index}`);
    }
  });

  it('keeps concurrent writes across more files than it keeps open', async () => {
    await store.close();
    store = fsSegmentStore({ dir: join(dir, 'segments'), maxOpenFiles: 4 });
    const size = 3 * SEGMENT_SIZE;
    const files = [...Array(12).keys()].map((seq) => fileBytes(size, seq + 10));
    await Promise.all(
      files.flatMap((file, seq) => [0, 1, 2].map((index) => store.write(seq, index, uploadSegment(file, index)))),
    );
    const reads = await Promise.all(files.map((_, seq) => store.readChunks(seq, size, 0, chunkCount(size) / 3)));
    reads.forEach((read, seq) => assert.deepEqual(read, expectedChunks(files[seq]!, 0, 1024), `seq ${seq}`));
  });

  it('persists across a reopen on the same dir', async () => {
    const size = SEGMENT_SIZE + 10;
    const file = fileBytes(size, 8);
    await writeFile(store, 3, file, [1, 0]);
    await store.close();
    store = fsSegmentStore({ dir: join(dir, 'segments') });
    assert.deepEqual(await store.readSegment(3, size, 0), uploadSegment(file, 0));
    assert.deepEqual(await store.readSegment(3, size, 1), uploadSegment(file, 1));
    assert.deepEqual(await store.readChunks(3, size, 0, chunkCount(size)), expectedChunks(file, 0, chunkCount(size)));
    assert.deepEqual(await readdir(join(dir, 'segments')), ['3.dat']);
  });

  it('rejects reads of missing files and bad ranges, and use after close', async () => {
    await assert.rejects(store.readChunks(5, 1000, 0, 1), hasCode('STORAGE_FILE_MISSING'));
    await assert.rejects(store.copy(5, 6), hasCode('STORAGE_FILE_MISSING'));
    // A failed read must not leave a handle that stops a later write from creating the file.
    await store.write(5, 0, fileBytes(1024));
    assert.deepEqual(await store.readChunks(5, 1000, 0, 1), fileBytes(1024).subarray(0, 256));

    await assert.rejects(store.readChunks(5, 1000, 0, 5), hasCode('STORAGE_INDEX_OUT_OF_BOUND'));
    await assert.rejects(store.readChunks(5, 1000, 2, 2), hasCode('STORAGE_INDEX_OUT_OF_BOUND'));
    await assert.rejects(store.readSegment(5, 1000, 1), hasCode('STORAGE_INDEX_OUT_OF_BOUND'));
    await assert.rejects(store.write(5, -1, fileBytes(256)), hasCode('STORAGE_INDEX_OUT_OF_BOUND'));
    await assert.rejects(store.write(5, 0, new Uint8Array(SEGMENT_SIZE + 1)), hasCode('STORAGE_INVALID_DATA_LENGTH'));
    await assert.rejects(store.write(5, 0, new Uint8Array(0)), hasCode('STORAGE_INVALID_DATA_LENGTH'));

    await store.close();
    await assert.rejects(store.write(5, 0, fileBytes(256)), hasCode('STORAGE_STORE_CLOSED'));
  });

  it('waits for writes in flight before closing', async () => {
    const size = 8 * SEGMENT_SIZE;
    const file = fileBytes(size, 4);
    const writes = [...Array(8).keys()].map((index) => store.write(6, index, uploadSegment(file, index)));
    await store.close();
    await Promise.all(writes);
    store = fsSegmentStore({ dir: join(dir, 'segments') });
    assert.deepEqual(await store.readChunks(6, size, 7 * 1024, 8 * 1024), expectedChunks(file, 7 * 1024, 8 * 1024));
  });
});
