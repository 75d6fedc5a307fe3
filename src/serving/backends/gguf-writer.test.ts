import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import { encodeGguf } from './gguf-writer.ts';
import type { GgufFile } from './gguf-writer.ts';
import { InvalidInputError } from '../../protocol/errors.ts';

const sample: GgufFile = {
  metadata: [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: 'ünï' }],
    ['test.u32', { type: 'u32', value: 7 }],
    ['test.i64', { type: 'i64', value: -5n }],
    ['test.f32', { type: 'f32', value: 0.5 }],
    ['test.bool', { type: 'bool', value: true }],
    ['test.strings', { type: 'array', itemType: 'string', values: ['a', 'bc'] }],
    ['test.ints', { type: 'array', itemType: 'i32', values: [1, -2, 3] }],
  ],
  tensors: [
    { name: 'a.weight', dims: [3], data: new Float32Array([1, 2, 3]) },
    { name: 'b.weight', dims: [2, 2], data: new Float32Array([0.25, -1, 4, 8]) },
  ],
};

test('the header is GGUF v3 with the tensor and kv counts', () => {
  const bytes = encodeGguf(sample);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), 'GGUF');
  assert.equal(view.getUint32(4, true), 3);
  assert.equal(view.getBigUint64(8, true), 2n);
  assert.equal(view.getBigUint64(16, true), 9n, 'general.alignment is added');
  assert.equal(bytes.length % 32, 0);
  // The tensor data section ends the file: b (16 bytes) follows a (12 bytes padded to 32).
  const b = new Float32Array(bytes.slice(bytes.length - 32, bytes.length - 16).buffer);
  assert.deepEqual([...b], [0.25, -1, 4, 8]);
});

test('node-llama-cpp reads back the metadata and tensor infos', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'levity-gguf-'));
  try {
    const path = join(dir, 'sample.gguf');
    await writeFile(path, encodeGguf(sample));
    const info = await readGgufFileInfo(path);
    assert.equal(info.version, 3);
    assert.equal(info.tensorCount, 2);
    const metadata = info.metadata as unknown as Record<string, Record<string, unknown>>;
    assert.equal(metadata.general?.name, 'ünï');
    assert.equal(metadata.general?.alignment, 32);
    assert.equal(metadata.test?.u32, 7);
    assert.equal(metadata.test?.f32, 0.5);
    assert.equal(metadata.test?.bool, true);
    assert.deepEqual(metadata.test?.strings, ['a', 'bc']);
    assert.deepEqual(metadata.test?.ints, [1, -2, 3]);
    const tensors = (info.fullTensorInfo ?? []).map((t) => ({ name: t.name, dims: t.dimensions.map(Number), offset: Number(t.offset) }));
    assert.deepEqual(tensors, [
      { name: 'a.weight', dims: [3], offset: 0 },
      { name: 'b.weight', dims: [2, 2], offset: 32 },
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad tensors and keys are typed errors', () => {
  const bad = (file: GgufFile, code: string): void => {
    assert.throws(() => encodeGguf(file), (error: unknown) => error instanceof InvalidInputError && error.code === code);
  };
  bad({ metadata: [], tensors: [{ name: 'x', dims: [2, 2], data: new Float32Array(3) }] }, 'GGUF_BAD_TENSOR');
  bad({ metadata: [], tensors: [{ name: 'x', dims: [], data: new Float32Array(0) }] }, 'GGUF_BAD_TENSOR');
  const t = { name: 'x', dims: [1], data: new Float32Array(1) };
  bad({ metadata: [], tensors: [t, t] }, 'GGUF_BAD_TENSOR');
  bad({ metadata: [['k', { type: 'u8', value: 1 }], ['k', { type: 'u8', value: 2 }]], tensors: [] }, 'GGUF_DUPLICATE_KEY');
  bad({ metadata: [], tensors: [], alignment: 12 }, 'GGUF_BAD_ALIGNMENT');
  bad({ metadata: [['general.alignment', { type: 'u32', value: 64 }]], tensors: [] }, 'GGUF_BAD_ALIGNMENT');
});
