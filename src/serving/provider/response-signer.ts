/**
 * How the provider signs each response. With its private key and an Ecdsa port (native
 * libsecp256k1) the signature is computed in place, synchronously; otherwise the wallet's account
 * signs (viem, pure JS). Both give the same bytes: the key is checked against the account before use.
 */
import { Buffer } from 'node:buffer';
import { hexToBytes, isHex } from 'viem';
import type { Hex, LocalAccount } from 'viem';
import { InvalidInputError } from '../../protocol/errors.ts';
import { nobleKeccak256, publicKeyAddress } from '../../protocol/serving/ecdsa.ts';
import type { Ecdsa, Keccak256 } from '../../protocol/serving/ecdsa.ts';
import { signResponse, signResponseWith } from '../../protocol/serving/response-signature.ts';
import type { ResponseMessage } from '../../protocol/serving/response-signature.ts';

export type ResponseSigner = {
  sign(message: ResponseMessage): Hex | Promise<Hex>;
  /** Whether signing runs through the Ecdsa port (false: the account signs). */
  readonly direct: boolean;
};

export type ResponseSignerOptions = {
  account: LocalAccount;
  /** The account's private key; an HD account's own key is used when this is absent. */
  privateKey?: Hex;
  ecdsa?: Ecdsa;
  keccak?: Keccak256;
};

export function createResponseSigner(options: ResponseSignerOptions): ResponseSigner {
  const { account, ecdsa } = options;
  const keccak = options.keccak ?? nobleKeccak256;
  const key = options.privateKey ?? hdPrivateKey(account);
  if (!ecdsa || key === undefined) return { sign: (message) => signResponse(account, message), direct: false };
  const privateKey = accountKey(key, account, ecdsa, keccak);
  return { sign: (message) => signResponseWith(ecdsa, privateKey, message, keccak), direct: true };
}

/** viem's HD accounts (mnemonicToAccount) expose their key; plain local accounts do not. */
function hdPrivateKey(account: LocalAccount): Hex | undefined {
  const hd = (account as { getHdKey?: () => { privateKey: Uint8Array | null } }).getHdKey?.();
  if (!hd?.privateKey) return undefined;
  return `0x${Buffer.from(hd.privateKey).toString('hex')}`;
}

/** The key as bytes, once a signature made with it recovers to the account: a wrong key would sign responses nobody can check. */
function accountKey(key: Hex, account: LocalAccount, ecdsa: Ecdsa, keccak: Keccak256): Uint8Array {
  const wrong = (details: string) => new InvalidInputError('SERVING_PROVIDER_KEY', 'The signing key is not the provider account\'s key', { details, meta: { account: account.address } });
  if (!isHex(key, { strict: true }) || key.length !== 66) throw wrong('not 0x followed by 32 bytes of hex');
  const bytes = hexToBytes(key);
  const probe = keccak(new TextEncoder().encode('levity.serving.signing-key-check'));
  let signed: { compact: Uint8Array; recovery: 0 | 1 };
  try {
    signed = ecdsa.sign(probe, bytes);
  } catch (cause) {
    throw wrong(`not a valid secp256k1 key (${String(cause)})`);
  }
  const recovered = ecdsa.recover(probe, signed.compact, signed.recovery);
  if (!recovered || publicKeyAddress(recovered, keccak) !== account.address) throw wrong('it signs for another address');
  return bytes;
}
