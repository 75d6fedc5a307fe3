import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../errors.ts';
import {
  BLS_MODULUS,
  BYTES_PER_BLOB,
  BYTES_PER_CELL,
  FIELD_ELEMENTS_PER_BLOB,
  PAYLOAD_BYTES_PER_BLOB,
} from './constants.ts';
import {
  blobCountFor,
  blobFromCells,
  blobsToPayload,
  createBlobPacker,
  createUnsizedBlobPacker,
  payloadToBlobs,
  type PackedBlob,
} from './payload-blobs.ts';

const code = (expected: string) => (error: unknown) =>
  error instanceof InvalidInputError && error.code === expected;

const rand = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

function pattern(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 131 + (i >> 8)) & 0xff;
  return bytes;
}

function roundTrip(payload: Uint8Array): Uint8Array[] {
  const blobs = payloadToBlobs(payload);
  assert.equal(blobs.length, blobCountFor(payload.length));
  for (const blob of blobs) assert.equal(blob.length, BYTES_PER_BLOB);
  assert.deepEqual(blobsToPayload(blobs, payload.length), payload);
  return blobs;
}

describe('payload ⇄ blobs', () => {
  it('counts blobs with the 8-byte prefix', () => {
    assert.equal(blobCountFor(1), 1);
    assert.equal(blobCountFor(PAYLOAD_BYTES_PER_BLOB - 8), 1);
    assert.equal(blobCountFor(PAYLOAD_BYTES_PER_BLOB - 7), 2);
    assert.equal(blobCountFor(16 * 1024 * 1024), 133);
    assert.throws(() => blobCountFor(0), code('DA_PAYLOAD_EMPTY'));
    assert.throws(() => blobCountFor(-1), code('DA_PAYLOAD_SIZE_INVALID'));
    assert.throws(() => blobCountFor(1.5), code('DA_PAYLOAD_SIZE_INVALID'));
  });

  it('round-trips 1 byte, with the prefix in field element 0 and zero padding', () => {
    const [blob] = roundTrip(Uint8Array.of(0xab));
    assert.deepEqual([...blob!.subarray(0, 10)], [0, 0, 0, 0, 0, 0, 0, 0, 1, 0xab]);
    assert.ok(blob!.subarray(10).every((b) => b === 0));
  });

  it('round-trips exactly one full blob and one byte over', () => {
    const full = roundTrip(pattern(PAYLOAD_BYTES_PER_BLOB - 8));
    assert.equal(full.length, 1);
    for (let fe = 0; fe < FIELD_ELEMENTS_PER_BLOB; fe++) assert.equal(full[0]![fe * 32], 0);
    assert.equal(roundTrip(pattern(PAYLOAD_BYTES_PER_BLOB - 7)).length, 2);
  });

  it('round-trips 1 MiB and random sizes', () => {
    assert.equal(roundTrip(rand(1024 * 1024)).length, 9);
    for (let i = 0; i < 20; i++) roundTrip(rand(1 + Math.floor(Math.random() * 400_000)));
  });

  it('keeps every field element canonical, even for 0xff payloads', () => {
    const [blob] = payloadToBlobs(new Uint8Array(50_000).fill(0xff));
    for (let fe = 0; fe < FIELD_ELEMENTS_PER_BLOB; fe++) {
      const hex = Buffer.from(blob!.subarray(fe * 32, fe * 32 + 32)).toString('hex');
      assert.ok(BigInt(`0x${hex}`) < BLS_MODULUS);
    }
  });

  it('refuses an empty or oversized payload', () => {
    assert.throws(() => payloadToBlobs(new Uint8Array(0)), code('DA_PAYLOAD_EMPTY'));
    assert.throws(() => payloadToBlobs(new Uint8Array(101), 100), code('DA_PAYLOAD_TOO_LARGE'));
    assert.equal(payloadToBlobs(new Uint8Array(100), 100).length, 1);
  });

  it('refuses malformed blobs', () => {
    const payload = pattern(200_000);
    const blobs = payloadToBlobs(payload);
    const mutate = (blob: number, offset: number, value: number) =>
      blobs.map((b, i) => {
        if (i !== blob) return b;
        const copy = b.slice();
        copy[offset] = value;
        return copy;
      });
    assert.throws(() => blobsToPayload(blobs.slice(0, 1), payload.length), code('DA_BLOB_MALFORMED'));
    assert.throws(() => blobsToPayload([...blobs, blobs[0]!], payload.length), code('DA_BLOB_MALFORMED'));
    assert.throws(() => blobsToPayload([blobs[0]!, blobs[1]!.subarray(1)], payload.length), code('DA_BLOB_MALFORMED'));
    assert.throws(() => blobsToPayload(mutate(1, 32 * 100, 1), payload.length), code('DA_BLOB_MALFORMED')); // top byte
    assert.throws(() => blobsToPayload(mutate(1, BYTES_PER_BLOB - 1, 1), payload.length), code('DA_BLOB_MALFORMED')); // padding
    assert.throws(() => blobsToPayload(mutate(0, 8, 0xff), payload.length), code('DA_BLOB_MALFORMED')); // prefix
    // Same blob count, different announced size: the prefix or the padding gives it away.
    assert.throws(() => blobsToPayload(blobs, payload.length - 1), code('DA_BLOB_MALFORMED'));
    assert.throws(() => blobsToPayload(blobs, payload.length + 1), code('DA_BLOB_MALFORMED'));
    assert.throws(() => blobsToPayload(blobs, 0), code('DA_PAYLOAD_EMPTY'));
  });

  it('rebuilds a blob from its systematic cells', () => {
    const [blob] = payloadToBlobs(pattern(1000));
    const cells = Array.from({ length: 64 }, (_, i) => blob!.subarray(i * BYTES_PER_CELL, (i + 1) * BYTES_PER_CELL));
    assert.deepEqual(blobFromCells(cells), blob);
    assert.throws(() => blobFromCells(cells.slice(1)), code('DA_BLOB_MALFORMED'));
    assert.throws(() => blobFromCells([...cells.slice(1), new Uint8Array(10)]), code('DA_BLOB_MALFORMED'));
  });
});

describe('createBlobPacker', () => {
  const chunked = (payload: Uint8Array, sizes: () => number): Uint8Array[] => {
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < payload.length; ) {
      const n = Math.min(sizes(), payload.length - at);
      chunks.push(payload.subarray(at, at + n));
      at += n;
    }
    return chunks;
  };

  const sizes = [1, 31, PAYLOAD_BYTES_PER_BLOB - 8, PAYLOAD_BYTES_PER_BLOB - 7, 3 * PAYLOAD_BYTES_PER_BLOB + 5];
  const randomChunks = () => 1 + Math.floor(Math.random() * 70_000);

  it('matches payloadToBlobs for odd chunk sizes (size known)', () => {
    for (const size of sizes) {
      const payload = rand(size);
      const packer = createBlobPacker(size);
      const out: Uint8Array[] = [];
      for (const chunk of chunked(payload, randomChunks)) out.push(...packer.push(chunk));
      out.push(...packer.finish());
      assert.equal(packer.bytes, size);
      assert.deepEqual(out, payloadToBlobs(payload));
    }
  });

  it('matches payloadToBlobs for odd chunk sizes (size unknown)', () => {
    for (const size of sizes) {
      const payload = rand(size);
      const packer = createUnsizedBlobPacker();
      const out: PackedBlob[] = [];
      for (const chunk of chunked(payload, randomChunks)) out.push(...packer.push(chunk));
      out.push(...packer.finish());
      assert.equal(packer.bytes, size);
      out.sort((a, b) => a.index - b.index);
      assert.deepEqual(out.map((p) => p.index), [...Array(blobCountFor(size)).keys()]);
      assert.deepEqual(out.map((p) => p.blob), payloadToBlobs(payload));
    }
  });

  it('emits blobs as soon as they fill; with an unknown size only blob 0 waits', () => {
    const payload = rand(2 * PAYLOAD_BYTES_PER_BLOB);
    const known = createBlobPacker(payload.length);
    assert.equal(known.push(payload.subarray(0, PAYLOAD_BYTES_PER_BLOB - 9)).length, 0);
    assert.equal(known.push(payload.subarray(PAYLOAD_BYTES_PER_BLOB - 9, PAYLOAD_BYTES_PER_BLOB - 8)).length, 1);
    const unknown = createUnsizedBlobPacker();
    assert.deepEqual(unknown.push(payload.subarray(0, PAYLOAD_BYTES_PER_BLOB - 8)), []);
    assert.deepEqual(unknown.push(payload.subarray(PAYLOAD_BYTES_PER_BLOB - 8)).map((p) => p.index), [1]);
    assert.deepEqual(unknown.finish().map((p) => p.index), [0, 2]);
    // A payload that exactly fills blob 0 leaves nothing partial.
    const exact = createUnsizedBlobPacker();
    exact.push(payload.subarray(0, PAYLOAD_BYTES_PER_BLOB - 8));
    assert.deepEqual(exact.finish().map((p) => p.index), [0]);
  });

  it('checks the byte count and the limit while streaming', () => {
    assert.throws(() => createBlobPacker(10).push(new Uint8Array(11)), code('DA_PAYLOAD_SIZE_MISMATCH'));
    const short = createBlobPacker(10);
    short.push(new Uint8Array(9));
    assert.throws(() => short.finish(), code('DA_PAYLOAD_SIZE_MISMATCH'));
    assert.throws(() => createUnsizedBlobPacker().finish(), code('DA_PAYLOAD_EMPTY'));
    assert.throws(() => createBlobPacker(0), code('DA_PAYLOAD_EMPTY'));
    assert.throws(() => createBlobPacker(101, 100), code('DA_PAYLOAD_TOO_LARGE'));
    const capped = createUnsizedBlobPacker(100);
    capped.push(new Uint8Array(60));
    assert.throws(() => capped.push(new Uint8Array(41)), code('DA_PAYLOAD_TOO_LARGE'));
    const done = createUnsizedBlobPacker();
    done.push(new Uint8Array(1));
    done.finish();
    assert.throws(() => done.push(new Uint8Array(1)), /already finished/);
  });

  it('packs 16 MiB quickly', () => {
    const payload = rand(16 * 1024 * 1024);
    const t0 = performance.now();
    const blobs = payloadToBlobs(payload);
    const t1 = performance.now();
    assert.deepEqual(blobsToPayload(blobs, payload.length), payload);
    const t2 = performance.now();
    console.log(`16 MiB: pack ${(t1 - t0).toFixed(0)} ms, unpack ${(t2 - t1).toFixed(0)} ms, ${blobs.length} blobs`);
  });
});
