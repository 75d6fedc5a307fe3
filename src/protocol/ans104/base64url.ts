/** base64url without padding, the encoding of every ANS-104 id, owner and signature. */
import { Buffer } from 'node:buffer';
import { InvalidInputError } from '../errors.ts';

const B64URL = /^[A-Za-z0-9_-]*$/;
/**
 * Characters whose low 2 bits are zero: the only valid last characters of a 43-char string that
 * encodes 32 bytes. Any other last character decodes to the same bytes, so accepting it would give
 * one id two spellings.
 */
const CANONICAL_LAST_OF_32 = /[AEIMQUYcgkosw048]$/;

export function toB64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** Decodes unpadded (or correctly padded) base64url; anything else is a typed error. */
export function fromB64Url(text: string): Uint8Array {
  let body = text;
  if (text.length % 4 === 0 && text.endsWith('=')) body = text.endsWith('==') ? text.slice(0, -2) : text.slice(0, -1);
  if (!B64URL.test(body) || body.length % 4 === 1) {
    throw new InvalidInputError('ANS104_BAD_BASE64URL', 'Invalid base64url text', {
      details: `expected only A-Z a-z 0-9 - _ (got ${text.length} characters${text.length > 64 ? '' : `: ${JSON.stringify(text)}`})`,
    });
  }
  const decoded = Buffer.from(body, 'base64url');
  return new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.byteLength);
}

/** A transaction or data item id: 43 base64url characters that decode to exactly 32 bytes. */
export function isTxId(text: unknown): boolean {
  return typeof text === 'string' && text.length === 43 && B64URL.test(text) && CANONICAL_LAST_OF_32.test(text);
}
