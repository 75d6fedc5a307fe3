import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DIRECT_ALIGNMENT, isAligned, releaseBatch, takeBatch } from './batch-buffers.ts';
import { createFileWriter } from './file-writer.ts';

describe('createFileWriter', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-file-writer-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lands out-of-order pieces at their positions, one write at a time, and flushes as it goes', async () => {
    const handle = await open(join(dir, 'out'), 'w');
    let syncs = 0;
    const datasync = handle.datasync.bind(handle);
    handle.datasync = () => {
      syncs++;
      return datasync();
    };
    const writer = createFileWriter(handle, { maxQueuedBytes: 1 << 20, syncEveryBytes: 8 });
    const settled: number[] = [];
    for (const [text, position] of [['world', 6], ['hello ', 0], ['!', 11]] as const) {
      await writer.write(Buffer.from(text), position, false, (ok) => settled.push(ok ? position : -1));
    }
    await writer.drain();
    await handle.close();
    assert.equal(await readFile(join(dir, 'out'), 'utf8'), 'hello world!');
    assert.deepEqual(settled, [6, 0, 11]);
    assert.ok(syncs >= 1, 'flushed once 8 bytes were written');
  });

  it('makes a writer wait while the queue is full, and lets it on once a write is done', async () => {
    const handle = await open(join(dir, 'bounded'), 'w');
    const order: string[] = [];
    const write = handle.write.bind(handle) as FileHandle['write'];
    handle.write = (async (...args: Parameters<FileHandle['write']>) => {
      order.push('write');
      await new Promise((resolve) => setTimeout(resolve, 5));
      return (write as (...a: unknown[]) => Promise<unknown>)(...args);
    }) as FileHandle['write'];
    const writer = createFileWriter(handle, { maxQueuedBytes: 4, syncEveryBytes: 1 << 20 });
    await writer.write(Buffer.from('abcd'), 0, false, () => order.push('settled 0'));
    const second = writer.write(Buffer.from('efgh'), 4, false, () => order.push('settled 4')).then(() => order.push('queued 4'));
    await second;
    await writer.drain();
    await handle.close();
    assert.deepEqual(order.slice(0, 3), ['write', 'settled 0', 'queued 4']);
    assert.equal(await readFile(join(dir, 'bounded'), 'utf8'), 'abcdefgh');
  });

  it('reports the first failure to drain and to later writes, and settles every piece', async () => {
    const handle = await open(join(dir, 'failing'), 'w');
    handle.write = (async () => {
      throw new Error('disk full');
    }) as unknown as FileHandle['write'];
    const writer = createFileWriter(handle, { maxQueuedBytes: 1 << 20, syncEveryBytes: 1 << 20 });
    const settled: boolean[] = [];
    await writer.write(Buffer.from('x'), 0, false, (ok) => settled.push(ok));
    await writer.write(Buffer.from('y'), 1, false, (ok) => settled.push(ok));
    await assert.rejects(writer.drain(), /disk full/);
    await assert.rejects(writer.write(Buffer.from('z'), 2, false, () => undefined), /disk full/);
    assert.deepEqual(settled, [false, false]);
    await handle.close();
  });

  it('writes aligned buffers directly where it can, ragged ends and all, with the same bytes as the page cache would', async () => {
    const path = join(dir, 'direct');
    const handle = await open(path, 'w');
    const writer = createFileWriter(handle, { maxQueuedBytes: 1 << 20, syncEveryBytes: 1 << 20, directPath: path, directAlignment: DIRECT_ALIGNMENT });
    const expected = new Uint8Array(3 * DIRECT_ALIGNMENT + 100);
    for (let i = 0; i < expected.length; i++) expected[i] = (i * 7 + 3) & 0xff;
    // Data that starts 40 bytes into its buffer, as a batch's data follows its header.
    const pieces: [number, number][] = [[0, 2 * DIRECT_ALIGNMENT], [2 * DIRECT_ALIGNMENT, DIRECT_ALIGNMENT + 100]];
    for (const [position, length] of pieces) {
      const buffer = takeBatch(40 + length, 40);
      assert.ok(isAligned(buffer, 40));
      buffer.set(expected.subarray(position, position + length), 40);
      await writer.write(buffer.subarray(40, 40 + length), position, true, () => releaseBatch(buffer));
    }
    await writer.drain();
    await handle.sync();
    await handle.close();
    assert.deepEqual(new Uint8Array(await readFile(path)), expected);
  });
});
