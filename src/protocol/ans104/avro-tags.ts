/**
 * ANS-104 tags: the Avro encoding of `array<record{name: bytes, value: bytes}>`. Counts and lengths
 * are zig-zag varints; an array is a run of blocks ended by a zero count, and a negative count is
 * followed by the block's byte size (Avro allows it, arbundles skips it, so do we).
 */
import { Buffer } from 'node:buffer';
import { InvalidInputError } from '../errors.ts';
import type { Tag } from './types.ts';

function malformed(details: string): InvalidInputError {
  return new InvalidInputError('ANS104_MALFORMED', 'Malformed ANS-104 tags', { details });
}

function zigZagSize(n: number): number {
  let m = n * 2; // n >= 0 here: zig-zag of a non-negative value is 2n
  let size = 1;
  while (m >= 0x80) {
    m = Math.floor(m / 128);
    size++;
  }
  return size;
}

function writeZigZag(out: Uint8Array, pos: number, n: number): number {
  let m = n * 2;
  while (m >= 0x80) {
    out[pos++] = (m % 128) | 0x80;
    m = Math.floor(m / 128);
  }
  out[pos++] = m;
  return pos;
}

/** Encodes tags exactly as arbundles does: one block, then the zero terminator; no tags → no bytes. */
export function encodeTags(tags: readonly Tag[]): Uint8Array {
  if (tags.length === 0) return new Uint8Array(0);
  const lengths: number[] = [];
  let size = zigZagSize(tags.length) + 1;
  for (const tag of tags) {
    if (typeof tag?.name !== 'string' || typeof tag?.value !== 'string') {
      throw new InvalidInputError('ANS104_BAD_TAG', 'Tag names and values must be strings', {
        details: `got ${JSON.stringify(tag)}`,
      });
    }
    const nameLength = Buffer.byteLength(tag.name, 'utf8');
    const valueLength = Buffer.byteLength(tag.value, 'utf8');
    lengths.push(nameLength, valueLength);
    size += zigZagSize(nameLength) + nameLength + zigZagSize(valueLength) + valueLength;
  }
  const out = Buffer.alloc(size);
  let pos = writeZigZag(out, 0, tags.length);
  let i = 0;
  for (const tag of tags) {
    pos = writeZigZag(out, pos, lengths[i++]!);
    pos += out.write(tag.name, pos, 'utf8');
    pos = writeZigZag(out, pos, lengths[i++]!);
    pos += out.write(tag.value, pos, 'utf8');
  }
  out[pos++] = 0;
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Decodes Avro tag bytes. Strings are decoded as UTF-8 with replacement characters, as arbundles
 * does, so every item it accepts decodes here too. Empty input means no tags; bytes after the
 * terminating zero block are refused.
 */
export function decodeTags(bytes: Uint8Array): Tag[] {
  const tags: Tag[] = [];
  if (bytes.length === 0) return tags;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = buf.length;
  let pos = 0;

  // Every count and length is bounded by the buffer, so anything past 2^32 is garbage.
  const readLong = (): number => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (pos >= end) throw malformed(`varint runs past the end of the tag bytes at offset ${pos}`);
      const b = buf[pos++]!;
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) break;
      scale *= 128;
      if (scale > 2 ** 35) throw malformed(`varint too long at offset ${pos}`);
    }
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
  };

  const readString = (what: string): string => {
    const length = readLong();
    if (length < 0 || length > end - pos) {
      throw malformed(`${what} length ${length} at offset ${pos} does not fit in ${end} tag bytes`);
    }
    const text = buf.toString('utf8', pos, pos + length);
    pos += length;
    return text;
  };

  for (;;) {
    let count = readLong();
    if (count === 0) break;
    if (count < 0) {
      count = -count;
      const blockSize = readLong();
      if (blockSize < 0 || blockSize > end - pos) throw malformed(`bad block size ${blockSize} at offset ${pos}`);
    }
    // Each tag takes at least two bytes (two zero lengths): reject impossible counts before looping.
    if (count * 2 > end - pos) throw malformed(`block of ${count} tags cannot fit in ${end - pos} remaining bytes`);
    for (let i = 0; i < count; i++) {
      const name = readString('tag name');
      const value = readString('tag value');
      tags.push({ name, value });
    }
  }
  if (pos !== end) throw malformed(`${end - pos} bytes after the end of the tag array`);
  return tags;
}
