/**
 * The address AO shows for an owner (spec ao.md §4.1): base64url(sha256(owner)) as Arweave does,
 * except 65-byte secp256k1 owners, which the CU maps to their EIP-55 Ethereum address.
 */
import { createHash } from 'node:crypto';
import { getAddress, keccak256 } from 'viem';

/** Ethereum address of an uncompressed secp256k1 public key (0x04 ‖ x ‖ y). */
export function ethereumAddress(uncompressedPublicKey: Uint8Array): `0x${string}` {
  const hash = keccak256(uncompressedPublicKey.subarray(1, 65), 'hex');
  return getAddress(`0x${hash.slice(-40)}`);
}

/**
 * The CU decides by owner length alone (65 bytes: types 3 and 101), so Levity does too; the
 * signature type is taken for callers' clarity and future types.
 */
export function ownerAddress(signatureType: number, owner: Uint8Array): string {
  void signatureType;
  if (owner.byteLength === 65) return ethereumAddress(owner);
  return createHash('sha256').update(owner).digest('base64url');
}
