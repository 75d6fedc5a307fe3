import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidInputError } from '../../protocol/errors.ts';
import { checkGgufHeader } from './gguf-check.ts';
import { encodeGguf } from './gguf-writer.ts';
import { tinyModelGguf } from './tiny-model.ts';

const invalid = (error: unknown): boolean => error instanceof InvalidInputError && error.code === 'SERVING_MODEL_INVALID';

test('a well-formed file passes and is summarised', () => {
  const { bytes } = tinyModelGguf({ seed: 3 });
  const summary = checkGgufHeader(bytes);
  assert.equal(summary.version, 3);
  assert.equal(summary.tensorCount, 21);
  assert.ok(summary.headerBytes > 1000 && summary.headerBytes < bytes.length);
});

test('garbage, foreign versions and lying lengths are rejected without allocating them', () => {
  assert.throws(() => checkGgufHeader(new TextEncoder().encode('GGUF not really a model, just text')), invalid);
  assert.throws(() => checkGgufHeader(new TextEncoder().encode('PK'.repeat(20))), invalid);
  const file = encodeGguf({ metadata: [['general.name', { type: 'string', value: 'x' }]], tensors: [] });
  const view = new DataView(file.buffer);
  const patched = (offset: number, value: bigint | number, width: 4 | 8): Uint8Array => {
    const copy = file.slice();
    const v = new DataView(copy.buffer);
    if (width === 4) v.setUint32(offset, Number(value), true);
    else v.setBigUint64(offset, BigInt(value), true);
    return copy;
  };
  assert.equal(view.getUint32(4, true), 3);
  assert.throws(() => checkGgufHeader(patched(4, 1, 4)), invalid, 'version 1');
  assert.throws(() => checkGgufHeader(patched(16, 1n << 60n, 8)), invalid, 'kv count');
  assert.throws(() => checkGgufHeader(patched(24, 1n << 40n, 8)), invalid, 'key length');
  assert.throws(() => checkGgufHeader(file.subarray(0, 30)), invalid, 'truncated');
});
