/**
 * Payload ⇄ blobs. The stream u64-BE(size) ‖ payload ‖ zero padding is cut into 31-byte pieces, each stored as a
 * field element 0x00 ‖ piece, so every element is below the BLS modulus by construction (no comparison needed) and
 * decoding can insist on the exact layout: a zero top byte, the expected size prefix and zero padding.
 */
import { InvalidInputError, LevityError } from '../errors.ts';
import {
  BYTES_PER_BLOB,
  BYTES_PER_CELL,
  BYTES_PER_FIELD_ELEMENT,
  DEFAULT_MAX_PAYLOAD_BYTES,
  FIELD_ELEMENTS_PER_BLOB,
  LENGTH_PREFIX_BYTES,
  PAYLOAD_BYTES_PER_BLOB,
  PAYLOAD_BYTES_PER_FIELD_ELEMENT,
  RECOVERY_CELLS,
} from './constants.ts';

const PIECE = PAYLOAD_BYTES_PER_FIELD_ELEMENT;
const FE = BYTES_PER_FIELD_ELEMENT;

/** How many blobs a payload of `size` bytes (≥ 1) occupies, its length prefix included. */
export function blobCountFor(size: number): number {
  checkSize(size);
  return Math.ceil((LENGTH_PREFIX_BYTES + size) / PAYLOAD_BYTES_PER_BLOB);
}

export type BlobPacker = {
  /** Adds payload bytes; returns the blobs that became complete, in blob order (their bytes are final). */
  push(chunk: Uint8Array): Uint8Array[];
  /** Checks that exactly payloadSize bytes arrived and returns the last blob(s). */
  finish(): Uint8Array[];
  /** Payload bytes pushed so far. */
  readonly bytes: number;
};

/** A blob completed by an unsized packer; `index` is its position in the payload (blob order). */
export type PackedBlob = { index: number; blob: Uint8Array };

export type UnsizedBlobPacker = {
  /** Adds payload bytes; returns the blobs that became complete: never blob 0, which waits for the length. */
  push(chunk: Uint8Array): PackedBlob[];
  /** Writes the length prefix and returns blob 0 first, then the last partial blob if any. */
  finish(): PackedBlob[];
  readonly bytes: number;
};

/**
 * Packs a payload of a known size that arrives in chunks: blobs come out in order as soon as they fill, so at most
 * one blob is buffered. Pushing more than payloadSize (or more than maxPayloadBytes) throws at once, so a
 * streaming server can refuse early.
 */
export function createBlobPacker(payloadSize: number, maxPayloadBytes: number = DEFAULT_MAX_PAYLOAD_BYTES): BlobPacker {
  checkPayloadSize(payloadSize, maxPayloadBytes);
  const core = createPackerCore(payloadSize, maxPayloadBytes);
  return {
    get bytes() {
      return core.bytes;
    },
    push: (chunk) => core.push(chunk).map((packed) => packed.blob),
    finish: () => core.finish().map((packed) => packed.blob),
  };
}

/**
 * Packs a payload whose size is known only at the end (a chunked upload without content-length). Only blob 0, which
 * carries the length prefix, is held until finish(); every later blob comes out as soon as it fills, with its index,
 * so encoding can start while the upload is still running. Going over maxPayloadBytes throws at that push.
 */
export function createUnsizedBlobPacker(maxPayloadBytes: number = DEFAULT_MAX_PAYLOAD_BYTES): UnsizedBlobPacker {
  return createPackerCore(undefined, maxPayloadBytes);
}

function createPackerCore(payloadSize: number | undefined, maxPayloadBytes: number): UnsizedBlobPacker {
  let total = 0;
  let finished = false;
  let nextIndex = 0;
  let current: Uint8Array | undefined;
  /** Stream bytes (prefix included) already written into `current`. */
  let fill = 0;
  let heldFirst: Uint8Array | undefined;

  const write = (src: Uint8Array, out: PackedBlob[]): void => {
    let s = 0;
    while (s < src.length) {
      current ??= new Uint8Array(BYTES_PER_BLOB);
      const take = Math.min(PAYLOAD_BYTES_PER_BLOB - fill, src.length - s);
      const fe = Math.floor(fill / PIECE);
      let off = fill - fe * PIECE;
      let o = fe * FE + 1 + off;
      const stop = s + take;
      const blob = current;
      // A plain byte loop: cheaper than allocating a subarray for every 31-byte piece.
      while (s < stop) {
        blob[o++] = src[s++]!;
        if (++off === PIECE) {
          off = 0;
          o++;
        }
      }
      fill += take;
      if (fill === PAYLOAD_BYTES_PER_BLOB) complete(out);
    }
  };

  const complete = (out: PackedBlob[]): void => {
    const blob = current!;
    const index = nextIndex++;
    current = undefined;
    fill = 0;
    if (index === 0 && payloadSize === undefined) heldFirst = blob;
    else out.push({ index, blob });
  };

  if (payloadSize === undefined) fill = LENGTH_PREFIX_BYTES; // the prefix is patched in at finish()
  else write(u64be(payloadSize), []);

  return {
    get bytes() {
      return total;
    },
    push(chunk) {
      if (finished) throw new LevityError('DA_PACKER_FINISHED', 'The blob packer was already finished');
      if (total + chunk.length > maxPayloadBytes) throw tooLarge(total + chunk.length, maxPayloadBytes);
      if (payloadSize !== undefined && total + chunk.length > payloadSize) {
        throw sizeMismatch(payloadSize, `more than ${payloadSize} bytes arrived`);
      }
      total += chunk.length;
      const out: PackedBlob[] = [];
      write(chunk, out);
      return out;
    },
    finish() {
      if (finished) throw new LevityError('DA_PACKER_FINISHED', 'The blob packer was already finished');
      if (total === 0) throw empty();
      if (payloadSize !== undefined && total !== payloadSize) {
        throw sizeMismatch(payloadSize, `only ${total} of ${payloadSize} bytes arrived`);
      }
      finished = true;
      const out: PackedBlob[] = [];
      if (payloadSize === undefined) {
        const first = heldFirst ?? current!;
        writePrefix(first, total);
        if (heldFirst) out.push({ index: 0, blob: heldFirst });
      }
      if (current) {
        out.push({ index: nextIndex++, blob: current });
        current = undefined;
      }
      return out;
    },
  };
}

/** Splits a whole payload into blobs (blob order). */
export function payloadToBlobs(payload: Uint8Array, maxPayloadBytes: number = DEFAULT_MAX_PAYLOAD_BYTES): Uint8Array[] {
  checkPayloadSize(payload.length, maxPayloadBytes);
  const packer = createBlobPacker(payload.length, maxPayloadBytes);
  return [...packer.push(payload), ...packer.finish()];
}

/** Rebuilds the payload, refusing anything but the exact layout payloadToBlobs produces. */
export function blobsToPayload(blobs: readonly Uint8Array[], payloadSize: number): Uint8Array {
  const expected = blobCountFor(payloadSize);
  if (blobs.length !== expected) {
    throw malformed(`expected ${expected} blobs for ${payloadSize} bytes, got ${blobs.length}`);
  }
  const payload = new Uint8Array(payloadSize);
  const prefix = new Uint8Array(LENGTH_PREFIX_BYTES);
  const payloadEnd = LENGTH_PREFIX_BYTES + payloadSize;
  let pos = 0; // position in the stream
  for (let b = 0; b < blobs.length; b++) {
    const blob = blobs[b]!;
    if (blob.length !== BYTES_PER_BLOB) throw malformed(`blob ${b} is ${blob.length} bytes, not ${BYTES_PER_BLOB}`);
    for (let fe = 0; fe < FIELD_ELEMENTS_PER_BLOB; fe++) {
      let o = fe * FE;
      if (blob[o] !== 0) throw malformed(`blob ${b} field element ${fe} has a non-zero top byte`);
      o++;
      for (let k = 0; k < PIECE; k++, pos++) {
        const byte = blob[o + k]!;
        if (pos >= LENGTH_PREFIX_BYTES && pos < payloadEnd) payload[pos - LENGTH_PREFIX_BYTES] = byte;
        else if (pos < LENGTH_PREFIX_BYTES) prefix[pos] = byte;
        else if (byte !== 0) throw malformed(`blob ${b} has non-zero padding after the payload`);
      }
    }
  }
  const view = new DataView(prefix.buffer);
  const announced = view.getBigUint64(0, false);
  if (announced !== BigInt(payloadSize)) {
    throw malformed(`the length prefix says ${announced} bytes, the header says ${payloadSize}`);
  }
  return payload;
}

/** Cells 0..63 of an extended blob are the blob itself (the code is systematic): no recovery needed. */
export function blobFromCells(cells: readonly Uint8Array[]): Uint8Array {
  if (cells.length !== RECOVERY_CELLS) throw malformed(`a blob is ${RECOVERY_CELLS} cells, got ${cells.length}`);
  const blob = new Uint8Array(BYTES_PER_BLOB);
  cells.forEach((cell, i) => {
    if (cell.length !== BYTES_PER_CELL) throw malformed(`cell ${i} is ${cell.length} bytes, not ${BYTES_PER_CELL}`);
    blob.set(cell, i * BYTES_PER_CELL);
  });
  return blob;
}

function writePrefix(blob: Uint8Array, size: number): void {
  // The first 8 stream bytes sit in field element 0, after its zero top byte.
  blob.set(u64be(size), 1);
}

function u64be(value: number): Uint8Array {
  const bytes = new Uint8Array(LENGTH_PREFIX_BYTES);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value), false);
  return bytes;
}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new InvalidInputError('DA_PAYLOAD_SIZE_INVALID', 'A payload size must be a non-negative integer', {
      meta: { size },
    });
  }
  if (size === 0) throw empty();
}

function checkPayloadSize(size: number, max: number): void {
  checkSize(size);
  if (size > max) throw tooLarge(size, max);
}

function empty(): InvalidInputError {
  return new InvalidInputError('DA_PAYLOAD_EMPTY', 'An empty payload cannot be dispersed');
}

function tooLarge(size: number, max: number): InvalidInputError {
  return new InvalidInputError('DA_PAYLOAD_TOO_LARGE', `The payload is larger than the limit of ${max} bytes`, {
    details: `at least ${size} bytes`,
    meta: { size, max },
  });
}

function sizeMismatch(expected: number, details: string): InvalidInputError {
  return new InvalidInputError('DA_PAYLOAD_SIZE_MISMATCH', `The payload is not the announced ${expected} bytes`, {
    details,
    meta: { expected },
  });
}

function malformed(details: string): InvalidInputError {
  return new InvalidInputError('DA_BLOB_MALFORMED', `The blobs do not hold a well-formed payload: ${details}`, {
    meta: { reason: details },
  });
}
