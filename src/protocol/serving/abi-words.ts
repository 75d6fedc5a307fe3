/**
 * abi.encode's static words, written straight into one buffer: the receipt and response digests are
 * computed once per request, and going through hex strings and fresh arrays per field (viem's
 * numberToBytes, hexToBytes) costs more than the hashing. Callers check ranges and address form first.
 */
import { Buffer } from 'node:buffer';

/** `count` zeroed 32-byte words. */
export const abiWords = (count: number): Buffer => Buffer.alloc(count * 32);

/** A uint256 (0 ≤ value < 2^256, checked by the caller) as the word at `index`. */
export function putUint256(words: Buffer, index: number, value: bigint): void {
  words.write(value.toString(16).padStart(64, '0'), index * 32, 32, 'hex');
}

/** A 0x-prefixed 20-byte address (checked by the caller) as the word at `index`, left-padded. */
export function putAddress(words: Buffer, index: number, address: string): void {
  words.write(address.slice(2), index * 32 + 12, 20, 'hex');
}

/** 32 bytes as the word at `index`. */
export function putBytes32(words: Buffer, index: number, value: Uint8Array): void {
  words.set(value, index * 32);
}
