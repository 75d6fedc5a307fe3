/**
 * The keys AO users sign with: an Arweave RSA JWK (what aoconnect and the aos CLI use) or
 * Levity's ed25519 wallet file `{type:'ed25519', seed:'<b64url>'}` (what the units use; small,
 * fast to create, and every Levity unit verifies it).
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ed25519Signer, fromB64Url, ownerAddress, rsaSigner, toB64Url } from '../../protocol/ans104/index.ts';
import type { DataItemSigner, RsaJwk } from '../../protocol/ans104/index.ts';
import { ConflictError, InvalidInputError, LevityError, NotFoundError, errorMessage } from '../../protocol/errors.ts';
import { AoClientErrorCode } from './ao-http.ts';

export type AoWalletType = 'rsa' | 'ed25519';

export type LoadAoSignerReturnType = { signer: DataItemSigner; address: string; type: AoWalletType };
export type CreateAoWalletReturnType = LoadAoSignerReturnType;

type Ed25519WalletFile = { type: 'ed25519'; seed: string };

/** Reads a wallet file and returns a signer and the address processes will see as `From`/`Owner`. */
export async function loadAoSigner(file: string): Promise<LoadAoSignerReturnType> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NotFoundError(AoClientErrorCode.walletNotFound, `no wallet at ${file}`, { meta: { file }, cause });
    }
    throw new LevityError(AoClientErrorCode.walletInvalid, `cannot read wallet ${file}`, { details: errorMessage(cause), meta: { file }, cause });
  }
  return walletFromText(text, file);
}

function walletFromText(text: string, file: string): LoadAoSignerReturnType {
  const invalid = (details: string, cause?: unknown) =>
    new InvalidInputError(AoClientErrorCode.walletInvalid, `wallet ${file} is neither an Arweave JWK nor a Levity ed25519 wallet`, {
      details,
      meta: { file },
      cause,
    });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw invalid('the file is not JSON', cause);
  }
  if (!parsed || typeof parsed !== 'object') throw invalid('the file is not a JSON object');
  const value = parsed as { kty?: unknown; type?: unknown; seed?: unknown };
  if (value.kty === 'RSA') {
    try {
      const signer = rsaSigner(parsed as RsaJwk);
      return { signer, address: ownerAddress(signer.signatureType, signer.publicKey), type: 'rsa' };
    } catch (cause) {
      throw invalid(errorMessage(cause), cause);
    }
  }
  if (value.type === 'ed25519' && typeof value.seed === 'string') {
    let seed: Uint8Array;
    try {
      seed = fromB64Url(value.seed);
    } catch (cause) {
      throw invalid('the seed is not base64url', cause);
    }
    if (seed.byteLength !== 32) throw invalid(`the seed is ${seed.byteLength} bytes, not 32`);
    const signer = ed25519Signer(seed);
    return { signer, address: ownerAddress(signer.signatureType, signer.publicKey), type: 'ed25519' };
  }
  throw invalid('expected {"kty":"RSA",...} or {"type":"ed25519","seed":"<base64url>"}');
}

/**
 * Creates a new ed25519 wallet readable only by its owner (0600). Refuses to replace an existing
 * file: losing a key means losing ownership of every process it spawned. The key is written to a
 * private temp file and hard-linked into place, so a crash or a concurrent creator never leaves a
 * half-written wallet, and exactly one of two racing creators wins.
 */
export async function createAoWallet(file: string): Promise<CreateAoWalletReturnType> {
  const seed = new Uint8Array(randomBytes(32));
  const content: Ed25519WalletFile = { type: 'ed25519', seed: toB64Url(seed) };
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(content)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(tmp, file);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new ConflictError(AoClientErrorCode.walletExists, `a wallet already exists at ${file}`, {
        details: 'refusing to overwrite a key; remove it yourself or pick another file',
        meta: { file },
      });
    }
    throw cause;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  const signer = ed25519Signer(seed);
  return { signer, address: ownerAddress(signer.signatureType, signer.publicKey), type: 'ed25519' };
}

/** Loads the wallet, creating an ed25519 one first if the file does not exist (losing a creation race is fine). */
export async function loadOrCreateAoWallet(file: string): Promise<LoadAoSignerReturnType & { created: boolean }> {
  try {
    return { ...(await loadAoSigner(file)), created: false };
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
  try {
    return { ...(await createAoWallet(file)), created: true };
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    return { ...(await loadAoSigner(file)), created: false };
  }
}
