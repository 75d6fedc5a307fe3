/**
 * BLS signatures for DA attestations: Ethereum's min-pk scheme (public keys in G1, 48 B; signatures in G2, 96 B)
 * with the proof-of-possession DST (BLS_DST), through blst. blst hard-wires that DST, which is what the
 * contract's hash-to-G2 and noble (given the DST) compute too; bls.test.ts checks all three agree.
 */
import { aggregateSignatures, PublicKey, SecretKey, Signature, verify } from '@chainsafe/blst';
import { InvalidInputError } from '../errors.ts';
import { BLS_PUBLIC_KEY_BYTES, BLS_SIGNATURE_BYTES } from './constants.ts';

export const BLS_SECRET_KEY_BYTES = 32;
/** IKM for EIP-2333 KeyGen must have at least 32 bytes of entropy. */
export const BLS_MIN_SEED_BYTES = 32;

export type BlsKeyPair = { secretKey: Uint8Array; publicKey: Uint8Array };

/** A key pair derived from `seed` (KeyGen, ≥ 32 bytes): the same seed always gives the same keys. */
export function blsKeyFromSeed(seed: Uint8Array): BlsKeyPair {
  if (!(seed instanceof Uint8Array) || seed.length < BLS_MIN_SEED_BYTES) {
    throw new InvalidInputError('DA_BLS_SEED_SHORT', `A BLS seed needs at least ${BLS_MIN_SEED_BYTES} bytes`, {
      meta: { length: seed instanceof Uint8Array ? seed.length : null },
    });
  }
  const secretKey = SecretKey.fromKeygen(seed);
  return { secretKey: secretKey.toBytes(), publicKey: secretKey.toPublicKey().toBytes(true) };
}

/** The 48-byte compressed public key of a 32-byte secret key. */
export function blsPublicKey(secretKey: Uint8Array): Uint8Array {
  return parseSecretKey(secretKey).toPublicKey().toBytes(true);
}

/** A 96-byte compressed signature of `message`. */
export function blsSign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  return parseSecretKey(secretKey).sign(message).toBytes(true);
}

/**
 * Whether `signature` signs `message` under `publicKey`. False, never a throw, for anything malformed: wrong
 * lengths, points off the curve or outside the subgroup, and the infinity key or signature (with which a forgery
 * would pass the pairing equation).
 */
export function blsVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== BLS_PUBLIC_KEY_BYTES) return false;
  if (!(signature instanceof Uint8Array) || signature.length !== BLS_SIGNATURE_BYTES) return false;
  if (!(message instanceof Uint8Array)) return false;
  try {
    const pk = PublicKey.fromBytes(publicKey, true);
    const sig = Signature.fromBytes(signature, true, true);
    return verify(message, pk, sig, true, true);
  } catch {
    return false;
  }
}

/**
 * The sum of compressed signatures (same message, signers with proven keys), compressed. Every input is
 * checked against the subgroup; a malformed one is an InvalidInputError naming its position.
 */
export function blsAggregateSignatures(signatures: readonly Uint8Array[]): Uint8Array {
  if (signatures.length === 0) {
    throw new InvalidInputError('DA_BLS_NO_SIGNATURES', 'Cannot aggregate an empty list of signatures');
  }
  const points = signatures.map((signature, index) => {
    try {
      if (!(signature instanceof Uint8Array) || signature.length !== BLS_SIGNATURE_BYTES) throw new Error('wrong length');
      return Signature.fromBytes(signature, true, false);
    } catch (cause) {
      throw new InvalidInputError('DA_BLS_SIGNATURE_MALFORMED', `Signature ${index} is not a valid G2 point`, {
        cause,
        meta: { index },
      });
    }
  });
  return aggregateSignatures(points, false).toBytes(true);
}

function parseSecretKey(secretKey: Uint8Array): SecretKey {
  try {
    if (!(secretKey instanceof Uint8Array) || secretKey.length !== BLS_SECRET_KEY_BYTES) throw new Error('wrong length');
    return SecretKey.fromBytes(secretKey);
  } catch (cause) {
    throw new InvalidInputError('DA_BLS_SECRET_KEY_MALFORMED', `A BLS secret key is ${BLS_SECRET_KEY_BYTES} bytes, non-zero and below r`, {
      cause,
    });
  }
}
