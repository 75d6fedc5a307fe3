import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serializeTags, deserializeTags } from '@dha-team/arbundles';
import { decodeTags, encodeTags } from './avro-tags.ts';
import { InvalidInputError } from '../errors.ts';
import type { Tag } from './types.ts';

const isMalformed = (error: unknown): boolean => error instanceof InvalidInputError && error.code === 'ANS104_MALFORMED';

const SAMPLES: Tag[][] = [
  [],
  [{ name: 'Data-Protocol', value: 'ao' }],
  [
    { name: 'Type', value: 'Message' },
    { name: '', value: '' },
    { name: 'ünïcödé 名前', value: 'emoji 😀 and \u0000 nul' },
    { name: 'long', value: 'x'.repeat(300) },
    { name: 'Action', value: 'Eval' },
  ],
  Array.from({ length: 100 }, (_, i) => ({ name: `T${i}`, value: String(i * 7) })),
];

describe('avro tags', () => {
  it('encodes byte for byte like arbundles and decodes both', () => {
    for (const tags of SAMPLES) {
      const ours = encodeTags(tags);
      assert.deepEqual(Buffer.from(ours), serializeTags(tags));
      assert.deepEqual(decodeTags(ours), tags);
      assert.deepEqual(deserializeTags(Buffer.from(ours)), tags);
    }
  });

  it('writes no bytes for no tags, and reads a lone terminator as no tags', () => {
    assert.equal(encodeTags([]).byteLength, 0);
    assert.deepEqual(decodeTags(new Uint8Array([0])), []);
    assert.deepEqual(decodeTags(new Uint8Array(0)), []);
  });

  it('accepts negative block counts followed by a block size, and several blocks', () => {
    // Block of -1 item (size 6): {a: b}; then a block of 1: {c: ""}; then the end.
    const bytes = new Uint8Array([0x01, 12, 2, 0x61, 2, 0x62, 2, 2, 0x63, 0, 0]);
    assert.deepEqual(decodeTags(bytes), [
      { name: 'a', value: 'b' },
      { name: 'c', value: '' },
    ]);
  });

  it('reads multi-byte varints', () => {
    const tags = [{ name: 'n'.repeat(200), value: 'v'.repeat(5000) }];
    assert.deepEqual(decodeTags(encodeTags(tags)), tags);
  });

  it('rejects garbage with ANS104_MALFORMED, never a RangeError', () => {
    const good = encodeTags([{ name: 'Name', value: 'Value' }]);
    const cases: Uint8Array[] = [
      good.subarray(0, good.length - 1), // no terminator
      good.subarray(0, 4), // truncated string
      new Uint8Array([...good, 7]), // trailing bytes
      new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), // huge varint
      new Uint8Array([0xfe, 0xff, 0xff, 0xff, 0x0f]), // count 2^31-1
      new Uint8Array([2, 3, 0x61, 0]), // negative string length
      new Uint8Array([0x01, 0x7f, 2, 0x61, 0]), // block size past the end
      new Uint8Array([0x80]), // varint cut short
      new Uint8Array([2, 200, 1]), // length 100 past the end
    ];
    for (const bytes of cases) assert.throws(() => decodeTags(bytes), isMalformed, Buffer.from(bytes).toString('hex'));
  });

  it('rejects non-string tags with a typed error', () => {
    assert.throws(
      () => encodeTags([{ name: 'a', value: 1 as unknown as string }]),
      (error: unknown) => error instanceof InvalidInputError && error.code === 'ANS104_BAD_TAG',
    );
  });

  it('decodes invalid UTF-8 leniently, as arbundles does', () => {
    const bytes = new Uint8Array([2, 2, 0xff, 2, 0x61, 0]);
    assert.deepEqual(decodeTags(bytes), deserializeTags(Buffer.from(bytes)));
  });
});
