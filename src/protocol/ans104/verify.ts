/**
 * Synchronous signature checks for parsed data items, matching arbundles' per-type `verify`.
 * Building a node KeyObject from an RSA modulus costs more than the verify itself, so keys are
 * kept in a small LRU per owner: an ingest burst from one wallet pays for the key once.
 */
import { Buffer } from 'node:buffer';
import { constants, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { signatureMessage } from './data-item.ts';
import { signatureTypeInfo } from './signature-types.ts';
import { ethereumMessageHash } from './signers.ts';
import type { DataItem } from './types.ts';

const KEY_CACHE_SIZE = 1024;

function keyCache(build: (owner: Uint8Array) => KeyObject): (owner: Uint8Array) => KeyObject {
  const cache = new Map<string, KeyObject>();
  return (owner) => {
    const id = Buffer.from(owner.buffer, owner.byteOffset, owner.byteLength).toString('latin1');
    let key = cache.get(id);
    if (key !== undefined) {
      cache.delete(id);
      cache.set(id, key);
      return key;
    }
    key = build(owner);
    if (cache.size >= KEY_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(id, key);
    return key;
  };
}

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');

const rsaKey = keyCache((owner) =>
  createPublicKey({ key: { kty: 'RSA', n: b64url(owner), e: 'AQAB' }, format: 'jwk' }),
);
const ed25519Key = keyCache((owner) =>
  createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(owner) }, format: 'jwk' }),
);

const RSA_PSS_ANY_SALT = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO };

/**
 * Checks `signature` over the 48-byte deep hash `message` for one signature type. Types 1–4 are
 * supported; anything else (Aptos, typed Ethereum, Kyve) is reported as not verified.
 */
export function verifySignature(signatureType: number, owner: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const info = signatureTypeInfo(signatureType);
  if (info === undefined || owner.byteLength !== info.ownerLength || signature.byteLength !== info.signatureLength) return false;
  try {
    switch (signatureType) {
      case 1:
        // Arweave signers differ in salt length (Node max, WebCrypto 32): accept any, like arweave-js.
        return cryptoVerify('sha256', message, { key: rsaKey(owner), ...RSA_PSS_ANY_SALT }, signature);
      case 2:
        return cryptoVerify(null, message, ed25519Key(owner), signature);
      case 3:
        // arbundles drops v and checks r ‖ s against the EIP-191 hash; libsecp256k1 refuses high s, so does lowS.
        return secp256k1.verify(signature.subarray(0, 64), ethereumMessageHash(message), owner, { prehash: false, lowS: true });
      case 4:
        // Solana wallets sign text: arbundles' HexSolanaSigner signs the hex of the deep hash.
        return cryptoVerify(null, Buffer.from(Buffer.from(message).toString('hex'), 'ascii'), ed25519Key(owner), signature);
      default:
        return false;
    }
  } catch {
    return false;
  }
}

/** Whether the item's signature is valid for its owner; the layout was checked by `parseDataItem`. */
export function verifyDataItem(item: DataItem): boolean {
  return verifySignature(item.signatureType, item.owner, signatureMessage(item), item.signature);
}

/**
 * `verifySignature` with the RSA and ed25519 checks run on libuv's thread pool (node:crypto's
 * callback form), so a batch of items verifies on every core while the caller goes on hashing.
 * secp256k1 has no native path here and runs synchronously.
 */
export function verifySignatureAsync(signatureType: number, owner: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const info = signatureTypeInfo(signatureType);
  if (info === undefined || owner.byteLength !== info.ownerLength || signature.byteLength !== info.signatureLength) return Promise.resolve(false);
  if (signatureType !== 1 && signatureType !== 2 && signatureType !== 4) {
    return Promise.resolve(verifySignature(signatureType, owner, message, signature));
  }
  return new Promise((resolve) => {
    const done = (error: Error | null, valid: boolean) => resolve(error === null && valid);
    try {
      if (signatureType === 1) cryptoVerify('sha256', message, { key: rsaKey(owner), ...RSA_PSS_ANY_SALT }, signature, done);
      else if (signatureType === 2) cryptoVerify(null, message, ed25519Key(owner), signature, done);
      else cryptoVerify(null, Buffer.from(Buffer.from(message).toString('hex'), 'ascii'), ed25519Key(owner), signature, done);
    } catch {
      resolve(false);
    }
  });
}

/** `verifyDataItem` on the thread pool where the signature type allows it. */
export function verifyDataItemAsync(item: DataItem): Promise<boolean> {
  return verifySignatureAsync(item.signatureType, item.owner, signatureMessage(item), item.signature);
}
