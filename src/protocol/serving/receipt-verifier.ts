/**
 * Receipt signatures at serving speed. A provider checks one receipt per request, almost always
 * from a user it has seen, so after the first full recovery for a user the verifier keeps that
 * user's public key (with precomputed multiples) and checks later receipts against it. The check
 * is the recovery equation itself: ecrecover(digest, v, r, s) gives P exactly when
 * u1·G + u2·P (u1 = z/s, u2 = r/s) is the point whose x is r and whose y parity is v − 27, so
 * a receipt passes here exactly when it would pass the ledger's ecrecover. Anything else (an
 * unknown user, a mismatch) falls back to full recovery, which also names the real signer.
 *
 * Given a faster Ecdsa (the provider's native libsecp256k1), every receipt is simply recovered in
 * full: that costs less than any pure-JS shortcut, needs no tables, and keeps no keys.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToBigInt, getAddress } from 'viem';
import type { Address, Hex } from 'viem';
import { InvalidInputError } from '../errors.ts';
import { nobleKeccak256, publicKeyAddress } from './ecdsa.ts';
import type { Ecdsa, Keccak256 } from './ecdsa.ts';
import { decodeReceiptSignature, parseReceiptSignature, receiptDigestBytes, receiptDomainSeparator, recoverSignerKey, signerAddress } from './receipt.ts';
import type { Receipt, ReceiptDomain, ReceiptSignature, SignerKey } from './receipt.ts';

/** How many users' keys are kept with precomputed multiples: about 300 KiB each, so 40 MiB at most. */
export const DEFAULT_RECEIPT_KEYS = 128;
/**
 * Window of the per-user precomputation: 6 makes a check about 3× cheaper than a full recovery for
 * a table built once in about 20 ms; wider windows cost far more memory and build time for little.
 */
const KEY_WINDOW = 6;
/** G gets a wider table than noble's default (6), built once per process (about 60 ms, 1 MiB). */
const BASE_WINDOW = 8;
/**
 * A kept key gives way to a new user only once it has gone unused for this many checks per kept key:
 * with more busy users than room, the extra ones are recovered in full instead of every user's table
 * being rebuilt over and over.
 */
const IDLE_CHECKS_PER_KEY = 4;

export type ReceiptVerifierOptions = {
  domain: ReceiptDomain;
  /** Users whose public keys are kept (128), the least recently used giving way once idle; pure-JS checks only. */
  maxKeys?: number;
};

export type ReceiptVerifierDeps = {
  /** Recovers every receipt with this instead of the pure-JS curve math and its per-user tables. */
  ecdsa?: Ecdsa;
  /** keccak256 for the digests (noble by default). */
  keccak?: Keccak256;
};

export type ReceiptVerifier = {
  /**
   * The address that signed `receipt` (what recoverReceiptSigner returns, checksummed). Throws
   * InvalidInputError SERVING_BAD_SIGNATURE for a signature the ledger would not accept.
   */
  signer(receipt: Receipt, signature: Hex): Address;
  /** Whether `user`'s key is kept, so that its next receipt is checked without a full recovery. */
  knows(user: Address): boolean;
};

const { Point } = secp256k1;
const { Fn } = Point;
let base: SignerKey | undefined;
const baseTable = (): SignerKey => (base ??= Point.fromAffine(Point.BASE.toAffine()).precompute(BASE_WINDOW, false));

export function createReceiptVerifier(options: ReceiptVerifierOptions, deps: ReceiptVerifierDeps = {}): ReceiptVerifier {
  const keccak = deps.keccak ?? nobleKeccak256;
  if (deps.ecdsa) return recoveringVerifier(options, deps.ecdsa, keccak);
  const separator = receiptDomainSeparator(options.domain);
  const maxKeys = options.maxKeys ?? DEFAULT_RECEIPT_KEYS;
  if (maxKeys > 0) baseTable();
  // Least recently used first; `usedAt` counts checks, not time.
  const keys = new Map<Address, { key: SignerKey; usedAt: number }>();
  let checks = 0;

  const remember = (user: Address, key: SignerKey) => {
    if (maxKeys <= 0) return;
    if (keys.size >= maxKeys) {
      const [oldest, entry] = keys.entries().next().value!;
      if (checks - entry.usedAt < maxKeys * IDLE_CHECKS_PER_KEY) return;
      keys.delete(oldest);
    }
    // A fresh point: the precomputed table belongs to this copy only.
    keys.set(user, { key: Point.fromAffine(key.toAffine()).precompute(KEY_WINDOW, false), usedAt: checks });
  };

  return {
    signer(receipt, signature) {
      checks++;
      const parsed = parseReceiptSignature(signature);
      const digest = receiptDigestBytes(separator, receipt, keccak);
      const user = getAddress(receipt.user);
      const known = keys.get(user);
      if (known && recoversTo(known.key, digest, parsed)) {
        keys.delete(user);
        keys.set(user, { key: known.key, usedAt: checks });
        return user;
      }
      const key = recoverSignerKey(digest, parsed);
      const signer = signerAddress(key);
      if (signer === user && !known) remember(user, key);
      return signer;
    },
    knows(user) {
      return keys.has(getAddress(user));
    },
  };
}

function recoveringVerifier(options: ReceiptVerifierOptions, ecdsa: Ecdsa, keccak: Keccak256): ReceiptVerifier {
  const separator = receiptDomainSeparator(options.domain);
  return {
    signer(receipt, signature) {
      const { compact, recovery } = decodeReceiptSignature(signature);
      const key = ecdsa.recover(receiptDigestBytes(separator, receipt, keccak), compact, recovery);
      if (!key) throw new InvalidInputError('SERVING_BAD_SIGNATURE', 'Receipt signature is invalid', { details: 'no public key recovers from it' });
      return publicKeyAddress(key, keccak);
    },
    knows: () => false,
  };
}

/** Whether ecrecover(digest, v, r, s) is `key`: the recovered R must equal u1·G + u2·key, parity included. */
export function recoversTo(key: SignerKey, digest: Uint8Array, signature: ReceiptSignature): boolean {
  const { r, s, recovery } = signature;
  // ecrecover's own range rules: r and s in [1, n − 1] (low s is already checked).
  if (!Fn.isValidNot0(r) || !Fn.isValidNot0(s)) return false;
  const z = Fn.create(bytesToBigInt(digest));
  const sInverse = Fn.inv(s);
  const point = baseTable().multiplyUnsafe(Fn.mul(z, sInverse)).add(key.multiplyUnsafe(Fn.mul(r, sInverse)));
  if (point.is0()) return false;
  const { x, y } = point.toAffine();
  return x === r && Number(y & 1n) === recovery;
}

