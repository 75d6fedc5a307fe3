/**
 * Serving receipts: what a user signs (EIP-712) with every request so that the provider can be paid
 * on chain. A receipt is cumulative, "this provider may charge me up to cumulativeAmount in total",
 * so only the latest one matters and one settlement covers every request before it.
 * Mirrors contracts/ServingLedger.sol, which accepts only canonical signatures (65 bytes, low s,
 * v of 27 or 28); `recoverReceiptSigner` applies the same rule, so a provider never accepts a
 * receipt the ledger would reject.
 */
import { Buffer } from 'node:buffer';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, getAddress, hexToBigInt, hexToBytes, isAddress, isHex, keccak256, numberToBytes, size, slice, stringToBytes } from 'viem';
import type { Address, Hex, LocalAccount } from 'viem';
import { publicKeyToAddress } from 'viem/accounts';
import { InvalidInputError } from '../errors.ts';
import { abiWords, putAddress, putBytes32, putUint256 } from './abi-words.ts';
import { nobleKeccak256 } from './ecdsa.ts';
import type { Keccak256 } from './ecdsa.ts';

export const RECEIPT_DOMAIN_NAME = 'Levity Serving';
export const RECEIPT_DOMAIN_VERSION = '1';

/** The EIP-712 type of a receipt: `Receipt(address user,address provider,uint256 cumulativeAmount,uint256 nonce)`. */
export const RECEIPT_TYPES = {
  Receipt: [
    { name: 'user', type: 'address' },
    { name: 'provider', type: 'address' },
    { name: 'cumulativeAmount', type: 'uint256' },
    { name: 'nonce', type: 'uint256' },
  ],
} as const;

export type Receipt = {
  user: Address;
  provider: Address;
  /** Wei: the most the provider may have settled in total once this receipt is settled. */
  cumulativeAmount: bigint;
  /** Strictly increasing per (user, provider). */
  nonce: bigint;
};

/** Where receipts are valid: the chain and the ServingLedger contract. */
export type ReceiptDomain = {
  chainId: number | bigint;
  verifyingContract: Address;
};

const UINT256_MAX = 2n ** 256n - 1n;
/** secp256k1n / 2: a larger s is the malleable twin of a valid signature (EIP-2). */
const HALF_CURVE_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/** The full EIP-712 typed data of a receipt, for `signTypedData` and `hashTypedData` alike. */
export function receiptTypedData(domain: ReceiptDomain, receipt: Receipt) {
  return {
    domain: {
      name: RECEIPT_DOMAIN_NAME,
      version: RECEIPT_DOMAIN_VERSION,
      chainId: domain.chainId,
      verifyingContract: domain.verifyingContract,
    },
    types: RECEIPT_TYPES,
    primaryType: 'Receipt',
    message: receipt,
  } as const;
}

const DOMAIN_TYPEHASH = keccak256(stringToBytes('EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)'), 'bytes');
const RECEIPT_TYPEHASH = keccak256(stringToBytes('Receipt(address user,address provider,uint256 cumulativeAmount,uint256 nonce)'), 'bytes');
const NAME_HASH = keccak256(stringToBytes(RECEIPT_DOMAIN_NAME), 'bytes');
const VERSION_HASH = keccak256(stringToBytes(RECEIPT_DOMAIN_VERSION), 'bytes');

/**
 * The EIP-712 domain separator of `domain`. Receipts have one fixed shape, so their digest is
 * encoded directly (a provider hashes one per request) rather than through a generic typed-data
 * encoder; the tests hold it to the contract's type strings and to viem's hashTypedData.
 */
export function receiptDomainSeparator(domain: ReceiptDomain): Uint8Array {
  const chainId = BigInt(domain.chainId);
  if (chainId < 0n || chainId > UINT256_MAX) {
    throw new InvalidInputError('SERVING_RECEIPT_INVALID', 'Receipt domain chainId is not a uint256', { meta: { chainId: chainId.toString() } });
  }
  if (!isAddress(domain.verifyingContract, { strict: false })) {
    throw new InvalidInputError('SERVING_RECEIPT_INVALID', 'Receipt domain verifyingContract is not an address', { meta: { value: String(domain.verifyingContract) } });
  }
  const words = new Uint8Array(5 * 32);
  words.set(DOMAIN_TYPEHASH, 0);
  words.set(NAME_HASH, 32);
  words.set(VERSION_HASH, 64);
  words.set(word(chainId), 96);
  words.set(addressWord(domain.verifyingContract), 128);
  return keccak256(words, 'bytes');
}

/** The digest of `receipt` under a separator from receiptDomainSeparator, as bytes. */
export function receiptDigestBytes(separator: Uint8Array, receipt: Receipt, keccak: Keccak256 = nobleKeccak256): Uint8Array {
  assertReceipt(receipt);
  const struct = abiWords(5);
  putBytes32(struct, 0, RECEIPT_TYPEHASH);
  putAddress(struct, 1, receipt.user);
  putAddress(struct, 2, receipt.provider);
  putUint256(struct, 3, receipt.cumulativeAmount);
  putUint256(struct, 4, receipt.nonce);
  const message = new Uint8Array(2 + 32 + 32);
  message[0] = 0x19;
  message[1] = 0x01;
  message.set(separator, 2);
  message.set(keccak(struct), 34);
  return keccak(message);
}

/** The EIP-712 digest the user signs and the ledger recovers from. */
export function receiptDigest(domain: ReceiptDomain, receipt: Receipt): Hex {
  return bytesToHex(receiptDigestBytes(receiptDomainSeparator(domain), receipt));
}

export async function signReceipt(account: LocalAccount, domain: ReceiptDomain, receipt: Receipt): Promise<Hex> {
  assertReceipt(receipt);
  return account.signTypedData(receiptTypedData(domain, receipt));
}

/**
 * The address that signed `receipt`. Throws InvalidInputError SERVING_BAD_SIGNATURE for a signature
 * the ledger would not accept (not 65 bytes, high s, v not 27/28) or one that recovers to no key;
 * callers still compare the result with `receipt.user`.
 */
export async function recoverReceiptSigner(domain: ReceiptDomain, receipt: Receipt, signature: Hex): Promise<Address> {
  const parsed = parseReceiptSignature(signature);
  const key = recoverSignerKey(receiptDigestBytes(receiptDomainSeparator(domain), receipt), parsed);
  return signerAddress(key);
}

/** A canonical receipt signature's parts; v is kept as the recovery bit (0 for 27, 1 for 28). */
export type ReceiptSignature = { r: bigint; s: bigint; recovery: 0 | 1 };

/** Splits a signature the ledger would accept; throws SERVING_BAD_SIGNATURE (as recoverReceiptSigner does) for any other. */
export function parseReceiptSignature(signature: Hex): ReceiptSignature {
  const problem = signatureProblem(signature);
  if (problem) throw badSignature(problem);
  return {
    r: hexToBigInt(slice(signature, 0, 32)),
    s: hexToBigInt(slice(signature, 32, 64)),
    recovery: signature.slice(130, 132) === '1c' ? 1 : 0,
  };
}

/** A canonical receipt signature as bytes: r‖s, and v as the recovery bit. */
export type CompactSignature = { compact: Uint8Array; recovery: 0 | 1 };

/** parseReceiptSignature's bytes form (same rule, same error), for an Ecdsa port. */
export function decodeReceiptSignature(signature: Hex): CompactSignature {
  const problem = signatureProblem(signature);
  if (problem) throw badSignature(problem);
  return { compact: Buffer.from(signature.slice(2, 130), 'hex'), recovery: signature.slice(130, 132) === '1c' ? 1 : 0 };
}

/** The public key ecrecover gives for this digest and signature; throws SERVING_BAD_SIGNATURE when none does. */
export function recoverSignerKey(digest: Uint8Array, signature: ReceiptSignature): SignerKey {
  try {
    const key = new secp256k1.Signature(signature.r, signature.s, signature.recovery).recoverPublicKey(digest);
    key.assertValidity();
    return key;
  } catch (cause) {
    throw badSignature('no public key recovers from it', cause);
  }
}

/** A secp256k1 public key as a curve point. */
export type SignerKey = ReturnType<typeof secp256k1.Point.fromBytes>;

/** The Ethereum address of a public key (checksummed). */
export function signerAddress(key: SignerKey): Address {
  return publicKeyToAddress(bytesToHex(key.toBytes(false)));
}

/** Whether `signature` is `receipt.user`'s canonical signature of `receipt`; never throws for a bad signature. */
export async function verifyReceipt(domain: ReceiptDomain, receipt: Receipt, signature: Hex): Promise<boolean> {
  try {
    const signer = await recoverReceiptSigner(domain, receipt, signature);
    return signer === getAddress(receipt.user);
  } catch (err) {
    if (err instanceof InvalidInputError && err.code === 'SERVING_BAD_SIGNATURE') return false;
    throw err;
  }
}

/** Why the ledger would reject this signature's encoding, or undefined when it is canonical. */
export function signatureProblem(signature: string): string | undefined {
  if (!isHex(signature, { strict: true })) return 'not 0x-prefixed hex';
  if (size(signature) !== 65) return `${size(signature)} bytes, not 65`;
  const s = hexToBigInt(slice(signature, 32, 64));
  if (s > HALF_CURVE_ORDER) return 's is in the upper half of the curve order (malleable)';
  const v = Number.parseInt(signature.slice(130, 132), 16);
  if (v !== 27 && v !== 28) return `v is ${v}, not 27 or 28`;
  return undefined;
}

/** Throws InvalidInputError SERVING_RECEIPT_INVALID unless every field fits its EIP-712 type. */
export function assertReceipt(receipt: Receipt): void {
  for (const field of ['user', 'provider'] as const) {
    if (!isAddress(receipt[field])) {
      throw new InvalidInputError('SERVING_RECEIPT_INVALID', `Receipt ${field} is not an address`, {
        meta: { field, value: String(receipt[field]) },
      });
    }
  }
  for (const field of ['cumulativeAmount', 'nonce'] as const) {
    const value = receipt[field];
    if (typeof value !== 'bigint' || value < 0n || value > UINT256_MAX) {
      throw new InvalidInputError('SERVING_RECEIPT_INVALID', `Receipt ${field} is not a uint256`, {
        meta: { field, value: String(value) },
      });
    }
  }
}

function word(value: bigint): Uint8Array {
  return numberToBytes(value, { size: 32 });
}

function addressWord(address: Address): Uint8Array {
  const out = new Uint8Array(32);
  out.set(hexToBytes(address), 12);
  return out;
}

function badSignature(details: string, cause?: unknown): InvalidInputError {
  return new InvalidInputError('SERVING_BAD_SIGNATURE', 'Receipt signature is invalid', { details, cause });
}
