/**
 * Serving receipts: what a user signs (EIP-712) with every request so that the provider can be paid
 * on chain. A receipt is cumulative, "this provider may charge me up to cumulativeAmount in total",
 * so only the latest one matters and one settlement covers every request before it.
 * Mirrors contracts/ServingLedger.sol, which accepts only canonical signatures (65 bytes, low s,
 * v of 27 or 28); `recoverReceiptSigner` applies the same rule, so a provider never accepts a
 * receipt the ledger would reject.
 */
import { getAddress, hashTypedData, hexToBigInt, isAddress, isHex, recoverAddress, size, slice } from 'viem';
import type { Address, Hex, LocalAccount } from 'viem';
import { InvalidInputError } from '../errors.ts';

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

/** The EIP-712 digest the user signs and the ledger recovers from. */
export function receiptDigest(domain: ReceiptDomain, receipt: Receipt): Hex {
  assertReceipt(receipt);
  return hashTypedData(receiptTypedData(domain, receipt));
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
  const problem = signatureProblem(signature);
  if (problem) throw badSignature(problem);
  const digest = receiptDigest(domain, receipt);
  try {
    return await recoverAddress({ hash: digest, signature });
  } catch (cause) {
    throw badSignature('no public key recovers from it', cause);
  }
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

function badSignature(details: string, cause?: unknown): InvalidInputError {
  return new InvalidInputError('SERVING_BAD_SIGNATURE', 'Receipt signature is invalid', { details, cause });
}
