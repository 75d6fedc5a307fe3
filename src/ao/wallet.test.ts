import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createDataItem, fromB64Url, ownerAddress, parseDataItem, verifyDataItem } from '../protocol/ans104/index.ts';
import { isLevityError } from '../protocol/errors.ts';
import { loadOrCreateWallet } from './wallet.ts';

describe('loadOrCreateWallet', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-wallet-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a private ed25519 wallet once and loads the same one afterwards', async () => {
    const file = join(dir, 'nested', 'wallet.json');
    const first = await loadOrCreateWallet(file);
    const again = await loadOrCreateWallet(file);
    assert.equal(again.address, first.address);
    assert.equal(first.address, ownerAddress(2, first.signer.publicKey));
    assert.equal(first.address.length, 43);
    const saved = JSON.parse(await readFile(file, 'utf8')) as { type: string; seed: string };
    assert.equal(saved.type, 'ed25519');
    assert.equal(fromB64Url(saved.seed).length, 32);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(join(dir, 'nested')), ['wallet.json'], 'no temp file left behind');

    const item = await createDataItem({ signer: first.signer, tags: [{ name: 'A', value: 'b' }], data: 'x' });
    const parsed = parseDataItem(item.raw);
    assert.equal(verifyDataItem(parsed), true);
    assert.equal(ownerAddress(parsed.signatureType, parsed.owner), first.address);
  });

  it('gives racing creators one key', async () => {
    const file = join(dir, 'wallet.json');
    const wallets = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateWallet(file)));
    assert.equal(new Set(wallets.map((wallet) => wallet.address)).size, 1);
  });

  it('refuses a file that is not a wallet, with a typed error', async () => {
    for (const text of ['not json', '{"type":"rsa"}', '{"type":"ed25519","seed":"AAAA"}', '{"type":"ed25519","seed":"$$"}']) {
      const file = join(dir, 'bad.json');
      await writeFile(file, text);
      await assert.rejects(loadOrCreateWallet(file), (error: unknown) => isLevityError(error) && error.code === 'AO_WALLET_INVALID', text);
    }
  });
});
