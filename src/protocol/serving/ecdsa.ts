/**
 * The secp256k1 and keccak256 operations the serving hot path needs, behind a port: the protocol
 * stays pure (the defaults here are @noble, as viem uses), and a provider injects faster ones
 * (native libsecp256k1, wasm keccak) without any rule changing. Every implementation must give
 * exactly ecrecover's key and viem's signatures (deterministic RFC 6979 nonces, low s), which the
 * tests hold them to.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex, getAddress } from 'viem';
import type { Address, Hex } from 'viem';

/** keccak256 of bytes, as bytes (32). */
export type Keccak256 = (data: Uint8Array) => Uint8Array;

export type Ecdsa = {
  /**
   * ecrecover: the signer's public key as 64 bytes (x‖y) for a 32-byte digest, a compact r‖s
   * (64 bytes) and the recovery bit; undefined when no key recovers (r or s zero or ≥ n, or no
   * point with that x). Canonical form (low s, v 27/28) is the caller's check.
   */
  recover(digest: Uint8Array, compact: Uint8Array, recovery: 0 | 1): Uint8Array | undefined;
  /** The deterministic (RFC 6979), low-s signature of a 32-byte digest. */
  sign(digest: Uint8Array, privateKey: Uint8Array): { compact: Uint8Array; recovery: 0 | 1 };
};

export const nobleKeccak256: Keccak256 = (data) => keccak_256(data);

/** The pure-JS reference: what viem itself computes. */
export const nobleEcdsa: Ecdsa = {
  recover(digest, compact, recovery) {
    try {
      const signature = secp256k1.Signature.fromBytes(compact, 'compact').addRecoveryBit(recovery);
      return signature.recoverPublicKey(digest).toBytes(false).subarray(1);
    } catch {
      return undefined;
    }
  },
  sign(digest, privateKey) {
    const signed = secp256k1.sign(digest, privateKey, { prehash: false, lowS: true, format: 'recovered' });
    // 'recovered' is the recovery byte first, then r‖s.
    return { compact: signed.subarray(1), recovery: signed[0] === 1 ? 1 : 0 };
  },
};

/** The checksummed address of a 64-byte (x‖y) public key. */
export function publicKeyAddress(key: Uint8Array, keccak: Keccak256 = nobleKeccak256): Address {
  return getAddress(bytesToHex(keccak(key).subarray(12)));
}

const PERSONAL_PREFIX = new TextEncoder().encode('\x19Ethereum Signed Message:\n32');

/** EIP-191 personal_sign's digest of a 32-byte message (viem's hashMessage({ raw })). */
export function personalDigest(message: Uint8Array, keccak: Keccak256 = nobleKeccak256): Uint8Array {
  const data = new Uint8Array(PERSONAL_PREFIX.length + 32);
  data.set(PERSONAL_PREFIX, 0);
  data.set(message, PERSONAL_PREFIX.length);
  return keccak(data);
}

/** The 65-byte r‖s‖v hex (v 27 or 28) that viem's signMessage and signTypedData return. */
export function signatureHex(signature: { compact: Uint8Array; recovery: 0 | 1 }): Hex {
  return `${bytesToHex(signature.compact)}${signature.recovery === 1 ? '1c' : '1b'}`;
}
