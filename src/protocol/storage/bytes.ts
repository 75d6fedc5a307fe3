/**
 * Byte and hex helpers for 32-byte Merkle nodes. Node's Buffer hex codec is native, so roots
 * convert cheaply at the edges; nothing in a hot loop goes through hex.
 */
import { Buffer } from 'node:buffer';
import type { Hex } from 'viem';

export type { Hex };

/** 32-byte node as bytes or as 0x-prefixed hex, the two forms callers hold. */
export type NodeValue = Uint8Array | Hex;

const HASH_HEX = /^0x[0-9a-fA-F]{64}$/;

export function toHex(bytes: Uint8Array): Hex {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`;
}

export function isHash32(value: unknown): value is Hex {
  return typeof value === 'string' && HASH_HEX.test(value);
}

/** Bytes of a 32-byte node, or undefined when it is neither 32 bytes nor 32-byte hex. */
export function nodeBytes(value: NodeValue): Uint8Array | undefined {
  if (typeof value === 'string') {
    return isHash32(value) ? new Uint8Array(Buffer.from(value.slice(2), 'hex')) : undefined;
  }
  return value instanceof Uint8Array && value.length === 32 ? value : undefined;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
