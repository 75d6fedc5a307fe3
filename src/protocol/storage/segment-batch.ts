/**
 * Levity's binary form of a run of consecutive segments with their proofs, for a storage node's
 * octet-stream routes. JSON-RPC carries the same facts as base64 inside JSON, a third larger and
 * a decode per segment; here the segments' bytes stay one contiguous block, so a node writes a
 * batch with one write and a client hashes it straight from the buffer. Big-endian layout:
 *
 *   "LVSB" | version u8 = 1 | 3 zero bytes | root 32 | fileSize u64 | first u32 | count u32
 *   count × proof: pathLength u8 | lemmaLength u8 | path, one bit per step (LSB first) | lemma 32 × lemmaLength
 *   data: segments first … first+count-1 back to back, each segmentDataLength(fileSize, i) bytes
 *
 * Data lengths follow from fileSize and the indexes, so a body's length is exact and checked.
 * Decoding checks the frame only; whether the proofs hold is verifySegment's business.
 */
import { Buffer } from 'node:buffer';
import { InvalidInputError } from '../errors.ts';
import { SEGMENT_SIZE } from './constants.ts';
import { isHash32, toHex } from './bytes.ts';
import type { Hex } from './bytes.ts';
import { segmentCount, segmentDataLength } from './padding.ts';
import type { SegmentProof } from './proof.ts';

export const SEGMENT_BATCH_CONTENT_TYPE = 'application/vnd.levity.segments';
/** Segments per batch at most: 64 MiB of data. */
export const MAX_BATCH_SEGMENTS = 256;

const MAGIC = [0x4c, 0x56, 0x53, 0x42]; // "LVSB"
const VERSION = 1;
const HEADER_BYTES = 4 + 4 + 32 + 8 + 4 + 4;
const MAX_PATH = 64;

export const SegmentBatchErrorCode = { malformed: 'STORAGE_BATCH_MALFORMED' } as const;

export type SegmentBatch = {
  root: Hex;
  fileSize: number;
  /** Index of the first segment. */
  first: number;
  count: number;
  /** proofs[k] is the proof of segment first + k. */
  proofs: SegmentProof[];
  /** All segments' bytes back to back (a view into the encoded body, not a copy). */
  data: Uint8Array;
};

const malformed = (message: string, details?: string) =>
  new InvalidInputError(SegmentBatchErrorCode.malformed, message, details === undefined ? {} : { details });

/** Bytes of data segments first … first+count-1 of a file of `fileSize` bytes. */
export function batchDataLength(fileSize: number, first: number, count: number): number {
  const last = first + count - 1;
  return (count - 1) * SEGMENT_SIZE + segmentDataLength(fileSize, last);
}

/** The bytes of segment `first + k` inside `batch.data`. */
export function batchSegment(batch: Pick<SegmentBatch, 'fileSize' | 'first' | 'data'>, k: number): Uint8Array {
  const start = k * SEGMENT_SIZE;
  return batch.data.subarray(start, start + segmentDataLength(batch.fileSize, batch.first + k));
}

/**
 * Everything before the data: header and proofs. A sender writes this and the data as two
 * pieces, so the segments' bytes are never copied into a bigger buffer.
 */
export function encodeBatchHead(batch: Omit<SegmentBatch, 'data' | 'count'>): Uint8Array {
  const { root, fileSize, first, proofs } = batch;
  if (!isHash32(root)) throw malformed('root is not a 32-byte hash');
  if (proofs.length < 1 || proofs.length > MAX_BATCH_SEGMENTS) throw malformed(`a batch holds 1..${MAX_BATCH_SEGMENTS} segments, not ${proofs.length}`);
  let length = HEADER_BYTES;
  for (const proof of proofs) length += 2 + Math.ceil(proof.path.length / 8) + 32 * proof.lemma.length;
  const out = Buffer.alloc(length);
  out.set(MAGIC, 0);
  out[4] = VERSION;
  out.write(root.slice(2), 8, 'hex');
  out.writeBigUInt64BE(BigInt(fileSize), 40);
  out.writeUInt32BE(first, 48);
  out.writeUInt32BE(proofs.length, 52);
  let offset = HEADER_BYTES;
  for (const { path, lemma } of proofs) {
    if (path.length > MAX_PATH || lemma.length > MAX_PATH + 2) throw malformed('proof too long');
    out[offset++] = path.length;
    out[offset++] = lemma.length;
    for (let j = 0; j < path.length; j++) if (path[j]) out[offset + (j >> 3)]! |= 1 << (j & 7);
    offset += Math.ceil(path.length / 8);
    for (const node of lemma) {
      if (!isHash32(node)) throw malformed('lemma nodes must be 32-byte hashes');
      out.write(node.slice(2), offset, 'hex');
      offset += 32;
    }
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** One buffer with head and data, for callers that want a single body. */
export function encodeSegmentBatch(batch: Omit<SegmentBatch, 'count'>): Uint8Array {
  const head = encodeBatchHead(batch);
  const expected = batchDataLength(batch.fileSize, batch.first, batch.proofs.length);
  if (batch.data.length !== expected) throw malformed(`data is ${batch.data.length} bytes, the segments need ${expected}`);
  const out = new Uint8Array(head.length + batch.data.length);
  out.set(head, 0);
  out.set(batch.data, head.length);
  return out;
}

/** Parses a batch, checking its frame; throws InvalidInputError (STORAGE_BATCH_MALFORMED) on anything off. */
export function decodeSegmentBatch(body: Uint8Array): SegmentBatch {
  if (body.length < HEADER_BYTES) throw malformed('segment batch shorter than its header', `${body.length} bytes`);
  for (let i = 0; i < MAGIC.length; i++) if (body[i] !== MAGIC[i]) throw malformed('not a segment batch (bad magic)');
  if (body[4] !== VERSION) throw malformed(`unsupported segment batch version ${body[4]}`);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const root = toHex(body.subarray(8, 40));
  const fileSize = Number(view.getBigUint64(40));
  const first = view.getUint32(48);
  const count = view.getUint32(52);
  if (!Number.isSafeInteger(fileSize) || fileSize < 1) throw malformed('invalid file size', `${fileSize}`);
  if (count < 1 || count > MAX_BATCH_SEGMENTS) throw malformed(`a batch holds 1..${MAX_BATCH_SEGMENTS} segments, not ${count}`);
  const segments = segmentCount(fileSize);
  if (first + count > segments) throw malformed('index out of bound', `segments ${first}..${first + count - 1} of a file of ${segments}`);
  const proofs: SegmentProof[] = [];
  let offset = HEADER_BYTES;
  for (let k = 0; k < count; k++) {
    if (offset + 2 > body.length) throw malformed('segment batch cut short in its proofs');
    const pathLength = body[offset]!;
    const lemmaLength = body[offset + 1]!;
    offset += 2;
    if (pathLength > MAX_PATH || lemmaLength > MAX_PATH + 2) throw malformed('proof too long', `path ${pathLength}, lemma ${lemmaLength}`);
    const end = offset + Math.ceil(pathLength / 8) + 32 * lemmaLength;
    if (end > body.length) throw malformed('segment batch cut short in its proofs');
    const path: boolean[] = [];
    for (let j = 0; j < pathLength; j++) path.push(((body[offset + (j >> 3)]! >> (j & 7)) & 1) === 1);
    offset += Math.ceil(pathLength / 8);
    const lemma: Hex[] = [];
    for (let i = 0; i < lemmaLength; i++, offset += 32) lemma.push(toHex(body.subarray(offset, offset + 32)));
    proofs.push({ lemma, path });
  }
  const expected = batchDataLength(fileSize, first, count);
  if (body.length - offset !== expected) {
    throw malformed('segment batch data has the wrong length', `${body.length - offset} bytes for segments needing ${expected}`);
  }
  return { root, fileSize, first, count, proofs, data: body.subarray(offset) };
}
