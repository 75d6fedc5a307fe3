/**
 * Signers for the three types Levity creates: Arweave RSA-PSS (1), ed25519 (2) and Ethereum
 * secp256k1 (3). Each signs the 48-byte deep hash exactly as the arbundles signer of that type
 * does, so arbundles verifies what we sign and vice versa.
 */
import { Buffer } from 'node:buffer';
import { constants, createPrivateKey, createPublicKey, sign as cryptoSign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak256 } from 'viem';
import { InvalidInputError } from '../errors.ts';
import { fromB64Url } from './base64url.ts';
import { SIGNATURE_TYPES } from './signature-types.ts';
import type { DataItemSigner } from './types.ts';

export type RsaJwk = {
  kty: 'RSA';
  n: string;
  e: string;
  d?: string;
  p?: string;
  q?: string;
  dp?: string;
  dq?: string;
  qi?: string;
};

function badKey(code: string, message: string, details?: string): InvalidInputError {
  return new InvalidInputError(code, message, details === undefined ? {} : { details });
}

/** PKCS#8 wrapper of a raw 32-byte Ed25519 seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function ed25519Signer(seed: Uint8Array): DataItemSigner {
  if (!(seed instanceof Uint8Array) || seed.byteLength !== 32) {
    throw badKey('ANS104_BAD_KEY', 'An ed25519 seed is 32 bytes', `got ${seed?.byteLength ?? typeof seed}`);
  }
  const key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  const publicKey = fromB64Url(jwk.x ?? '');
  return {
    signatureType: 2,
    publicKey,
    sign(message) {
      const signature = cryptoSign(null, message, key);
      return new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength);
    },
  };
}

/**
 * Arweave RSA-PSS over SHA-256 with Node's default (maximum) salt length, as arbundles'
 * ArweaveSigner and aoconnect's signer do. The owner is the 512-byte modulus.
 */
export function rsaSigner(jwk: RsaJwk): DataItemSigner {
  if (jwk?.kty !== 'RSA' || typeof jwk.n !== 'string' || typeof jwk.d !== 'string') {
    throw badKey('ANS104_BAD_KEY', 'An Arweave signer needs a private RSA JWK (kty RSA with n and d)');
  }
  // The owner field carries only n; every verifier assumes e = 65537.
  if (jwk.e !== 'AQAB') throw badKey('ANS104_BAD_KEY', 'Arweave keys use the public exponent 65537 (AQAB)', `got e=${jwk.e}`);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: { ...jwk }, format: 'jwk' });
  } catch (error) {
    throw new InvalidInputError('ANS104_BAD_KEY', 'The RSA JWK could not be loaded', {
      details: error instanceof Error ? error.message : String(error),
      cause: error,
    });
  }
  const publicKey = fromB64Url(jwk.n);
  if (publicKey.byteLength !== SIGNATURE_TYPES[1].ownerLength) {
    throw badKey('ANS104_BAD_KEY', 'Arweave keys are 4096-bit RSA', `the modulus is ${publicKey.byteLength * 8} bits`);
  }
  return {
    signatureType: 1,
    publicKey,
    sign(message) {
      const signature = cryptoSign('sha256', message, { key, padding: constants.RSA_PKCS1_PSS_PADDING });
      return new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength);
    },
  };
}

const EIP191_PREFIX = '\x19Ethereum Signed Message:\n';

/** keccak256 of the EIP-191 personal message wrapping `message`, what ethers' `hashMessage` returns. */
export function ethereumMessageHash(message: Uint8Array): Uint8Array {
  const prefix = Buffer.from(`${EIP191_PREFIX}${message.byteLength}`, 'utf8');
  return keccak256(Buffer.concat([prefix, message]), 'bytes');
}

function ethereumPrivateKey(privateKey: Uint8Array | `0x${string}`): Uint8Array {
  let bytes: Uint8Array;
  if (typeof privateKey === 'string') {
    if (!/^0x[0-9a-fA-F]{64}$/.test(privateKey)) throw badKey('ANS104_BAD_KEY', 'A secp256k1 private key is 32 bytes of hex');
    bytes = Buffer.from(privateKey.slice(2), 'hex');
  } else {
    bytes = privateKey;
  }
  if (!(bytes instanceof Uint8Array) || bytes.byteLength !== 32 || !secp256k1.utils.isValidSecretKey(bytes)) {
    throw badKey('ANS104_BAD_KEY', 'Invalid secp256k1 private key');
  }
  return Uint8Array.from(bytes);
}

/**
 * arbundles' EthereumSigner: an EIP-191 personal-sign of the deep hash (ethers `signMessage`),
 * stored as r ‖ s ‖ v with v = 27 + recovery; the owner is the 65-byte uncompressed public key.
 * RFC 6979 nonces and low-s, so the bytes equal what ethers produces.
 */
export function ethereumSigner(privateKey: Uint8Array | `0x${string}`): DataItemSigner {
  const secret = ethereumPrivateKey(privateKey);
  const publicKey = secp256k1.getPublicKey(secret, false);
  return {
    signatureType: 3,
    publicKey,
    sign(message) {
      const recovered = secp256k1.sign(ethereumMessageHash(message), secret, { prehash: false, format: 'recovered' });
      const out = new Uint8Array(65);
      out.set(recovered.subarray(1, 65), 0);
      out[64] = 27 + recovered[0]!;
      return out;
    },
  };
}
