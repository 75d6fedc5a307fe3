import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConflictError, InvalidInputError, NotFoundError } from '../../protocol/errors.ts';
import { createAoWallet, loadAoSigner, loadOrCreateAoWallet } from './wallet.ts';

describe('AO wallets', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-ao-wallet-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates an ed25519 wallet readable only by its owner, and loads the same key back', async () => {
    const file = join(dir, 'nested', 'w.json');
    const created = await createAoWallet(file);
    assert.equal(created.type, 'ed25519');
    assert.equal(created.signer.signatureType, 2);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const loaded = await loadAoSigner(file);
    assert.equal(loaded.address, created.address);
    assert.equal(loaded.address, createHash('sha256').update(created.signer.publicKey).digest('base64url'));
  });

  it('refuses to overwrite an existing wallet', async () => {
    const file = join(dir, 'once.json');
    const first = await createAoWallet(file);
    await assert.rejects(createAoWallet(file), (error) => error instanceof ConflictError && error.code === 'AO_CLIENT_WALLET_EXISTS');
    assert.equal((await loadAoSigner(file)).address, first.address);
  });

  it('loadOrCreate creates once, then loads; racing creators agree on one key', async () => {
    const file = join(dir, 'raced.json');
    const all = await Promise.all(Array.from({ length: 4 }, () => loadOrCreateAoWallet(file)));
    assert.equal(new Set(all.map((wallet) => wallet.address)).size, 1);
    assert.equal(all.filter((wallet) => wallet.created).length, 1);
  });

  it('loads a 4096-bit Arweave JWK as a type 1 signer with the Arweave address', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 4096, publicExponent: 65537 });
    const jwk = privateKey.export({ format: 'jwk' });
    const file = join(dir, 'arweave.json');
    await writeFile(file, JSON.stringify(jwk));
    const wallet = await loadAoSigner(file);
    assert.equal(wallet.type, 'rsa');
    assert.equal(wallet.signer.signatureType, 1);
    assert.equal(wallet.address, createHash('sha256').update(Buffer.from(jwk.n!, 'base64url')).digest('base64url'));
  });

  it('gives typed errors for missing and malformed files', async () => {
    await assert.rejects(loadAoSigner(join(dir, 'none.json')), (error) => error instanceof NotFoundError && error.code === 'AO_CLIENT_WALLET_NOT_FOUND');
    for (const [name, text] of [
      ['not-json', 'nope'],
      ['wrong-shape', '{"hello":1}'],
      ['short-seed', '{"type":"ed25519","seed":"AAAA"}'],
      ['public-jwk', '{"kty":"RSA","n":"AQAB","e":"AQAB"}'],
    ]) {
      const file = join(dir, `${name}.json`);
      await writeFile(file, text!);
      await assert.rejects(loadAoSigner(file), (error) => error instanceof InvalidInputError && error.code === 'AO_CLIENT_WALLET_INVALID', name);
    }
  });
});
