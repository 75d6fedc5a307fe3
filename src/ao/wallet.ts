import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ed25519Signer, fromB64Url, ownerAddress, toB64Url } from '../protocol/ans104/index.ts';
import type { DataItemSigner } from '../protocol/ans104/types.ts';
import { InvalidInputError } from '../protocol/errors.ts';

/** ANS-104 signature type 2. */
const ED25519 = 2;

export type UnitWallet = { signer: DataItemSigner; address: string };

type WalletFile = { type: 'ed25519'; seed: string };

/**
 * The signing identity of an AO unit (SU or MU): an ed25519 seed kept in a JSON file.
 * The first call creates it; later calls (and restarts) load the same key, so the unit's
 * address — which processes trust through `Authority` — never changes under them.
 */
export async function loadOrCreateWallet(file: string): Promise<UnitWallet> {
  const existing = await readWalletFile(file);
  if (existing) return walletFromSeed(existing, file);
  const seed = new Uint8Array(randomBytes(32));
  const created = await createExclusive(file, { type: 'ed25519', seed: toB64Url(seed) });
  // Another process may have won the race to create it: its key is the one to use.
  return walletFromSeed(created ? seed : ((await readWalletFile(file)) ?? seed), file);
}

function walletFromSeed(seed: Uint8Array, file: string): UnitWallet {
  if (seed.length !== 32) {
    throw new InvalidInputError('AO_WALLET_INVALID', `wallet ${file} does not hold a 32-byte ed25519 seed`, {
      meta: { file, bytes: seed.length },
    });
  }
  const signer = ed25519Signer(seed);
  return { signer, address: ownerAddress(ED25519, signer.publicKey) };
}

async function readWalletFile(file: string): Promise<Uint8Array | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const invalid = (details: string) =>
    new InvalidInputError('AO_WALLET_INVALID', `wallet ${file} is not a Levity unit wallet`, { details, meta: { file } });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('the file is not JSON');
  }
  const value = parsed as Partial<WalletFile> | null;
  if (!value || value.type !== 'ed25519' || typeof value.seed !== 'string') {
    throw invalid('expected {"type":"ed25519","seed":"<base64url>"}');
  }
  try {
    return fromB64Url(value.seed);
  } catch {
    throw invalid('the seed is not base64url');
  }
}

/**
 * Writes the file only if it does not exist yet: a private temp file, flushed, then hard-linked
 * into place (link fails when the name is taken), then the directory flushed. A crash leaves
 * either no wallet or a complete one, never a half-written key.
 */
async function createExclusive(file: string, value: WalletFile): Promise<boolean> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(value)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(tmp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  await syncDir(dir);
  return true;
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the link itself is already done.
  } finally {
    await handle.close();
  }
}
