import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesToHex, hexToBytes, isHex } from 'viem';
import type { Hex, LocalAccount } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { blsKeyFromSeed } from '../../protocol/da/bls.ts';
import { InvalidInputError } from '../../protocol/errors.ts';

export const IDENTITY_FILE = 'identity.json';

/** A DA node's keys: an EVM account (registers, holds the stake) and a BLS key (attests). */
export type DaNodeIdentity = {
  account: LocalAccount;
  bls: { secretKey: Uint8Array; publicKey: Uint8Array };
};

type IdentityFile = { version: 1; privateKey: Hex; blsSeed: Hex };

/**
 * The node's identity from `dataDir/identity.json`, created on first start. The file is on disk
 * (fsynced, renamed into place, directory fsynced) before the keys are used, so a node that
 * registered never comes back after a crash with a different key than the chain knows.
 */
export async function loadOrCreateIdentity(dataDir: string, random: (size: number) => Uint8Array = randomBytes): Promise<DaNodeIdentity> {
  const path = join(dataDir, IDENTITY_FILE);
  let file = await readIdentity(path);
  if (!file) {
    file = { version: 1, privateKey: generatePrivateKey(), blsSeed: bytesToHex(random(32)) };
    await writeDurably(dataDir, path, `${JSON.stringify(file, null, 2)}\n`);
  }
  return { account: privateKeyToAccount(file.privateKey), bls: blsKeyFromSeed(hexToBytes(file.blsSeed)) };
}

async function readIdentity(path: string): Promise<IdentityFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const value = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Partial<Record<keyof IdentityFile, unknown>>;
  const key = value.privateKey;
  const seed = value.blsSeed;
  if (value.version !== 1 || !isHex(key) || key.length !== 66 || !isHex(seed) || seed.length !== 66) {
    // Never replace a damaged identity: the stake on chain belongs to the key it held.
    throw new InvalidInputError('DA_IDENTITY_MALFORMED', `${path} is not a DA node identity`, {
      details: 'restore the file from a backup, or move it away to start a node with a new identity',
      meta: { path },
    });
  }
  return { version: 1, privateKey: key, blsSeed: seed };
}

async function writeDurably(dir: string, path: string, text: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
