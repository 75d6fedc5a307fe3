/**
 * Signed responses: the provider signs every response it serves, binding the generated text to the
 * request's receipt (user, nonce), the token counts and what it charged, so a user can prove what a
 * provider returned and billed. EIP-191 personal_sign over
 * keccak256(abi.encode(RESPONSE_DOMAIN, provider, user, nonce, keccak(id), keccak(model),
 * promptTokens, completionTokens, cost, spentAfter, keccak(utf8 content))).
 */
import { bytesToHex, getAddress, hexToBytes, isAddressEqual, keccak256, recoverMessageAddress, stringToBytes } from 'viem';
import type { Address, Hex, LocalAccount } from 'viem';
import { InvalidInputError } from '../errors.ts';
import { abiWords, putAddress, putBytes32, putUint256 } from './abi-words.ts';
import { nobleKeccak256, personalDigest, signatureHex } from './ecdsa.ts';
import type { Ecdsa, Keccak256 } from './ecdsa.ts';
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
  return bytesToHex(responseDigestBytes(message));
}

/** responseDigest as bytes, with the keccak256 to use. */
export function responseDigestBytes(message: ResponseMessage, keccak: Keccak256 = nobleKeccak256): Uint8Array {
  const words = abiWords(11);
  putBytes32(words, 0, RESPONSE_DOMAIN_BYTES);
  putAddress(words, 1, address(message.provider, 'provider'));
  putAddress(words, 2, address(message.user, 'user'));
  putUint256(words, 3, uint256(message.nonce, 'nonce'));
  putBytes32(words, 4, keccak(stringToBytes(message.id)));
  putBytes32(words, 5, keccak(stringToBytes(message.model)));
  putUint256(words, 6, uint256(message.promptTokens, 'promptTokens'));
  putUint256(words, 7, uint256(message.completionTokens, 'completionTokens'));
  putUint256(words, 8, uint256(message.cost, 'cost'));
  putUint256(words, 9, uint256(message.spentAfter, 'spentAfter'));
  putBytes32(words, 10, keccak(stringToBytes(message.content)));
  return keccak(words);
}

export async function signResponse(account: LocalAccount, message: ResponseMessage): Promise<Hex> {
  return account.signMessage({ message: { raw: responseDigest(message) } });
}

/**
 * What signResponse gives for the account of `privateKey`, byte for byte, computed with an Ecdsa
 * port and synchronously: the provider's hot path.
 */
export function signResponseWith(ecdsa: Ecdsa, privateKey: Uint8Array, message: ResponseMessage, keccak: Keccak256 = nobleKeccak256): Hex {
  return signatureHex(ecdsa.sign(personalDigest(responseDigestBytes(message, keccak), keccak), privateKey));
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
