/**
 * Signed responses: the provider signs every response it serves, binding the generated text to the
 * request's receipt (user, nonce), the token counts and what it charged, so a user can prove what a
 * provider returned and billed. EIP-191 personal_sign over
 * keccak256(abi.encode(RESPONSE_DOMAIN, provider, user, nonce, keccak(id), keccak(model),
 * promptTokens, completionTokens, cost, spentAfter, keccak(utf8 content))).
 */
import { encodeAbiParameters, getAddress, isAddressEqual, keccak256, recoverMessageAddress, stringToBytes } from 'viem';
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

const RESPONSE_PARAMETERS = [
  { type: 'bytes32' },
  { type: 'address' },
  { type: 'address' },
  { type: 'uint256' },
  { type: 'bytes32' },
  { type: 'bytes32' },
  { type: 'uint256' },
  { type: 'uint256' },
  { type: 'uint256' },
  { type: 'uint256' },
  { type: 'bytes32' },
] as const;

/** The 32-byte digest the provider personal_signs. */
export function responseDigest(message: ResponseMessage): Hex {
  return keccak256(
    encodeAbiParameters(RESPONSE_PARAMETERS, [
      RESPONSE_DOMAIN,
      address(message.provider, 'provider'),
      address(message.user, 'user'),
      uint256(message.nonce, 'nonce'),
      keccak256(stringToBytes(message.id)),
      keccak256(stringToBytes(message.model)),
      uint256(message.promptTokens, 'promptTokens'),
      uint256(message.completionTokens, 'completionTokens'),
      uint256(message.cost, 'cost'),
      uint256(message.spentAfter, 'spentAfter'),
      keccak256(stringToBytes(message.content)),
    ]),
  );
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
