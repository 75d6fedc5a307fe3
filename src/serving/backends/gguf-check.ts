/**
 * A bounds-checked walk over a GGUF header, run before a file reaches node-llama-cpp: its header parser trusts the
 * counts and lengths it reads, so a corrupt or foreign file with a garbage length makes it allocate until the process
 * dies of heap exhaustion (seen with node-llama-cpp 3.22.1). Here every count and length is checked against the bytes
 * actually present, and a bad file is a typed error.
 */

import { open } from 'node:fs/promises';
import { InvalidInputError } from '../../protocol/errors.ts';

/** Metadata of real models (150k-token vocabularies) stays well under this. */
const MAX_HEADER_BYTES = 64 * 1024 * 1024;
const MAX_COUNT = 1_000_000n;
const MAX_DIMS = 4;
const SCALAR_SIZES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;

export type GgufHeaderSummary = { version: number; tensorCount: number; kvCount: number; headerBytes: number };

export async function checkGgufFile(path: string): Promise<GgufHeaderSummary> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, MAX_HEADER_BYTES);
    const bytes = new Uint8Array(length);
    await handle.read(bytes, 0, length, 0);
    return checkGgufHeader(bytes, size);
  } finally {
    await handle.close();
  }
}

/** `bytes` is the start of the file (or all of it); `fileSize` its full size. */
export function checkGgufHeader(bytes: Uint8Array, fileSize = bytes.length): GgufHeaderSummary {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const invalid = (details: string): never => {
    throw new InvalidInputError('SERVING_MODEL_INVALID', 'not a valid GGUF model file', { details, meta: { offset: at } });
  };
  const need = (n: number | bigint): number => {
    if (BigInt(at) + BigInt(n) > BigInt(bytes.length)) invalid(`truncated: ${n} bytes needed at offset ${at}`);
    const start = at;
    at += Number(n);
    return start;
  };
  const u32 = (): number => view.getUint32(need(4), true);
  const u64 = (): bigint => view.getBigUint64(need(8), true);
  const count = (what: string): number => {
    const n = u64();
    if (n > MAX_COUNT) invalid(`${what} count ${n} is not plausible`);
    return Number(n);
  };
  const string = (): void => {
    need(u64());
  };
  const value = (type: number, depth: number): void => {
    if (type === STRING) return string();
    if (type === ARRAY) {
      if (depth > 2) invalid('arrays nest too deep');
      const itemType = u32();
      const items = u64();
      const size = SCALAR_SIZES[itemType];
      if (size !== undefined) {
        need(items * BigInt(size));
        return;
      }
      if (items > MAX_COUNT) invalid(`array of ${items} items is not plausible`);
      for (let i = 0n; i < items; i++) value(itemType, depth + 1);
      return;
    }
    const size = SCALAR_SIZES[type];
    if (size === undefined) invalid(`unknown value type ${type}`);
    need(size as number);
  };

  if (bytes.length < 24 || new TextDecoder().decode(bytes.subarray(0, 4)) !== 'GGUF') invalid('no GGUF magic');
  at = 4;
  const version = u32();
  // Version 1 had 32-bit counts; llama.cpp reads 2 and 3.
  if (version !== 2 && version !== 3) invalid(`unsupported GGUF version ${version}`);
  const tensorCount = count('tensor');
  const kvCount = count('metadata');
  for (let i = 0; i < kvCount; i++) {
    string();
    value(u32(), 0);
  }
  for (let i = 0; i < tensorCount; i++) {
    string();
    const dims = u32();
    if (dims === 0 || dims > MAX_DIMS) invalid(`tensor with ${dims} dimensions`);
    need(8 * dims);
    u32();
    if (u64() >= BigInt(fileSize)) invalid('tensor offset beyond the end of the file');
  }
  return { version, tensorCount, kvCount, headerBytes: at };
}
