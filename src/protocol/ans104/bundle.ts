/**
 * ANS-104 bundles: a 32-byte little-endian item count, then per item a 32-byte LE size and the
 * 32-byte raw id, then the items back to back.
 */
import { createHash } from 'node:crypto';
import { InvalidInputError } from '../errors.ts';
import { toB64Url } from './base64url.ts';
import { parseDataItem } from './data-item.ts';
import { signatureTypeInfo } from './signature-types.ts';
import type { DataItem, Tag } from './types.ts';

export type BundleEntry = { id: string; offset: number; size: number };

function malformed(details: string): InvalidInputError {
  return new InvalidInputError('ANS104_MALFORMED', 'Malformed ANS-104 bundle', { details });
}

function writeLe32(out: Uint8Array, offset: number, value: number): void {
  let v = value;
  for (let i = 0; i < 8 && v > 0; i++) {
    out[offset + i] = v % 256;
    v = Math.floor(v / 256);
  }
}

/** Reads a 32-byte LE integer that must fit in a safe integer. */
function readLe32(bytes: Uint8Array, offset: number, what: string): number {
  for (let i = 7; i < 32; i++) if (bytes[offset + i] !== 0) throw malformed(`${what} does not fit in 56 bits`);
  let value = 0;
  for (let i = 6; i >= 0; i--) value = value * 256 + bytes[offset + i]!;
  if (!Number.isSafeInteger(value)) throw malformed(`${what} does not fit in 53 bits`);
  return value;
}

function rawIdOf(item: Uint8Array, index: number): Uint8Array {
  const type = item.byteLength >= 2 ? item[0]! | (item[1]! << 8) : -1;
  const info = signatureTypeInfo(type);
  if (info === undefined || item.byteLength < 2 + info.signatureLength) {
    throw new InvalidInputError('ANS104_MALFORMED', 'Malformed ANS-104 data item', {
      details: `bundle item ${index} has no readable signature`,
    });
  }
  return createHash('sha256').update(item.subarray(2, 2 + info.signatureLength)).digest();
}

export function encodeBundle(items: readonly Uint8Array[]): Uint8Array {
  const headerSize = 32 + 64 * items.length;
  let size = headerSize;
  for (const item of items) size += item.byteLength;
  const out = new Uint8Array(size);
  writeLe32(out, 0, items.length);
  let pos = headerSize;
  items.forEach((item, index) => {
    writeLe32(out, 32 + 64 * index, item.byteLength);
    out.set(rawIdOf(item, index), 32 + 64 * index + 32);
    out.set(item, pos);
    pos += item.byteLength;
  });
  return out;
}

/** The items' ids and where each lies in `bytes`; checks the header fits and the sizes add up. */
export function readBundleHeader(bytes: Uint8Array): BundleEntry[] {
  if (bytes.byteLength < 32) throw malformed(`${bytes.byteLength} bytes, shorter than the 32-byte item count`);
  const count = readLe32(bytes, 0, 'item count');
  if (count > (bytes.byteLength - 32) / 64) throw malformed(`${count} items cannot fit in ${bytes.byteLength} bytes`);
  const entries: BundleEntry[] = [];
  let offset = 32 + 64 * count;
  for (let i = 0; i < count; i++) {
    const at = 32 + 64 * i;
    const size = readLe32(bytes, at, `size of item ${i}`);
    if (size > bytes.byteLength - offset) throw malformed(`item ${i} (${size} bytes at ${offset}) runs past the end`);
    entries.push({ id: toB64Url(bytes.subarray(at + 32, at + 64)), offset, size });
    offset += size;
  }
  return entries;
}

/**
 * ANS-104 nested bundles: a data item whose data is a bundle says so with these two tags
 * (exact names and values, as arlocal and Arweave gateways read them).
 */
export const NESTED_BUNDLE_TAGS = {
  format: { name: 'Bundle-Format', value: 'binary' },
  version: { name: 'Bundle-Version', value: '2.0.0' },
} as const;

/** Whether an item's tags declare its data to be an ANS-104 (binary, 2.0.0) bundle. */
export function declaresBundle(tags: readonly Tag[]): boolean {
  let format = false;
  let version = false;
  for (const tag of tags) {
    if (tag.name === NESTED_BUNDLE_TAGS.format.name) format = tag.value === NESTED_BUNDLE_TAGS.format.value;
    else if (tag.name === NESTED_BUNDLE_TAGS.version.name) version = tag.value === NESTED_BUNDLE_TAGS.version.value;
  }
  return format && version;
}

/**
 * Parses every item of a bundle and checks each against its header entry (the id there must be
 * the item's own). Signatures are not checked here. A malformed item names its index.
 */
export function unbundle(bytes: Uint8Array): { entries: BundleEntry[]; items: DataItem[] } {
  const entries = readBundleHeader(bytes);
  const items = entries.map((entry, index) => {
    let item: DataItem;
    try {
      item = parseDataItem(bytes.subarray(entry.offset, entry.offset + entry.size));
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      throw new InvalidInputError(error.code, `Malformed item ${index} of an ANS-104 bundle: ${error.details ?? error.shortMessage}`, {
        details: error.details,
        meta: { index },
        cause: error,
      });
    }
    if (item.id !== entry.id) throw malformed(`item ${index} is ${item.id} but the header names it ${entry.id}`);
    return item;
  });
  return { entries, items };
}
