/**
 * Signed responses: the provider signs every response it serves, binding the generated text to the
 * request's receipt (user, nonce), the token counts and what it charged, so a user can prove what a
 * provider returned and billed. EIP-191 personal_sign over
 * keccak256(abi.encode(RESPONSE_DOMAIN, provider, user, nonce, keccak(id), keccak(model),
 * promptTokens, completionTokens, cost, spentAfter, keccak(utf8 content))).
 */
import { bytesToHex, getAddress, hexToBytes, isAddressEqual, keccak256, numberToBytes, recoverMessageAddress, stringToBytes } from 'viem';
import type { Address, Hex, LocalAccount } from 'viem';
import { InvalidInputError } from '../errors.ts';
import { signatureProblem } from './receipt.ts';

export const RESPONSE_DOMAIN: Hex = keccak256(stringToBytes('levity.serving.response.v1'));

/** The response header that carries the provider's signature (non-streaming responses). */
export const RESPONSE_SIGNATURE_HEADER = 'X-Levity-Response-Signature';

export type ResponseMessage = {
  provider: Address;
  user: Address;
  /** The nonce of the receipt the request carried. */
  nonce: bigint;
  /** The completion's id (`chatcmpl-…`). */
  id: string;
  model: string;
  promptTokens: number | bigint;
  completionTokens: number | bigint;
  /** Wei charged for this response. */
  cost: bigint;
  /** Wei the user has spent with this provider in total, this response included. */
  spentAfter: bigint;
  /** The full generated text: the assistant message, or every streamed delta concatenated. */
  content: string;
};

const UINT256_MAX = 2n ** 256n - 1n;

const RESPONSE_DOMAIN_BYTES = hexToBytes(RESPONSE_DOMAIN);

/**
 * The 32-byte digest the provider personal_signs. Every field is one static 32-byte word, so the
 * abi.encode is written out directly (a provider signs once per response); the tests hold it to
 * viem's encodeAbiParameters.
 */
export function responseDigest(message: ResponseMessage): Hex {
  const words = new Uint8Array(11 * 32);
  words.set(RESPONSE_DOMAIN_BYTES, 0);
  words.set(hexToBytes(address(message.provider, 'provider')), 32 + 12);
  words.set(hexToBytes(address(message.user, 'user')), 64 + 12);
  words.set(numberToBytes(uint256(message.nonce, 'nonce'), { size: 32 }), 96);
  words.set(keccak256(stringToBytes(message.id), 'bytes'), 128);
  words.set(keccak256(stringToBytes(message.model), 'bytes'), 160);
  words.set(numberToBytes(uint256(message.promptTokens, 'promptTokens'), { size: 32 }), 192);
  words.set(numberToBytes(uint256(message.completionTokens, 'completionTokens'), { size: 32 }), 224);
  words.set(numberToBytes(uint256(message.cost, 'cost'), { size: 32 }), 256);
  words.set(numberToBytes(uint256(message.spentAfter, 'spentAfter'), { size: 32 }), 288);
  words.set(keccak256(stringToBytes(message.content), 'bytes'), 320);
  return bytesToHex(keccak256(words, 'bytes'));
}

export async function signResponse(account: LocalAccount, message: ResponseMessage): Promise<Hex> {
  return account.signMessage({ message: { raw: responseDigest(message) } });
}

/**
 * Whether `signature` is `message.provider`'s canonical (65-byte, low-s, v 27/28) signature of the
 * message. False for any bad signature; throws only for a malformed message.
 */
export async function verifyResponse(message: ResponseMessage, signature: Hex): Promise<boolean> {
  const digest = responseDigest(message);
  if (signatureProblem(signature) !== undefined) return false;
  try {
    const signer = await recoverMessageAddress({ message: { raw: digest }, signature });
    return isAddressEqual(signer, message.provider);
  } catch {
    return false;
  }
}

function address(value: string, field: string): Address {
  try {
    return getAddress(value);
  } catch (cause) {
    throw new InvalidInputError('SERVING_RESPONSE_INVALID', `Response ${field} is not an address`, { cause, meta: { field, value } });
  }
}

function uint256(value: number | bigint, field: string): bigint {
  const ok = typeof value === 'bigint' ? value >= 0n && value <= UINT256_MAX : Number.isSafeInteger(value) && value >= 0;
  if (!ok) throw new InvalidInputError('SERVING_RESPONSE_INVALID', `Response ${field} is not a uint256`, { meta: { field, value: String(value) } });
  return BigInt(value);
}
