import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Hex } from 'viem';
import { openDaStore } from './da-store.ts';
import { IDENTITY_FILE, loadOrCreateIdentity } from './identity.ts';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'levity-da-store-'));
  dirs.push(dir);
  return dir;
};

const root = `0x${'ab'.repeat(32)}` as Hex;
const header = { epoch: 7n, payloadSize: 1000, blobCount: 2, commitments: [`0x${'11'.repeat(48)}`, `0x${'22'.repeat(48)}`] as Hex[] };
const cell = (blob: number, index: number) => ({ blob, cell: index, data: new Uint8Array(2048).fill(index), proof: new Uint8Array(48).fill(blob + 1) });

test('the store keeps header, cells and signature across a reopen, and answers the first attestation again', async () => {
  const path = join(await tempDir(), 'da.sqlite');
  const store = openDaStore({ path });
  const signature = new Uint8Array(96).fill(9);
  store.putCells(root, [cell(1, 5), cell(0, 3)]);
  store.putCells(root, [cell(0, 100)]);
  assert.equal(store.attestation(root), undefined, 'pending until putCustody');
  const saved = store.putCustody({ dataRoot: root, header, index: 2, signature, cells: 3 });
  assert.deepEqual(saved, { dataRoot: root, index: 2, signature, cells: 3 });
  // The first attestation wins: a second put of the same root changes nothing.
  store.putCells(root, [cell(0, 1)]);
  const again = store.putCustody({ dataRoot: root, header, index: 3, signature: new Uint8Array(96), cells: 1 });
  assert.deepEqual(again, saved);
  // A custody cut short (the process dies between batches) leaves nothing after a reopen.
  const other = `0x${'ef'.repeat(32)}` as Hex;
  store.putCells(other, [cell(0, 7)]);
  assert.equal(store.stats().cells, 4);
  store.close();

  const reopened = openDaStore({ path });
  assert.deepEqual(reopened.header(root.toUpperCase().replace('0X', '0x') as Hex), header);
  assert.deepEqual(reopened.attestation(root), saved);
  assert.deepEqual(reopened.heldRefs(root), [{ blob: 0, cell: 3 }, { blob: 0, cell: 100 }, { blob: 1, cell: 5 }]);
  assert.deepEqual(reopened.cells(root), [cell(0, 3), cell(0, 100), cell(1, 5)]);
  assert.deepEqual(reopened.cells(root, [{ blob: 1, cell: 5 }, { blob: 1, cell: 6 }]), [cell(1, 5)]);
  assert.deepEqual(reopened.stats(), { roots: 1, cells: 3 });
  assert.equal(reopened.header(`0x${'cd'.repeat(32)}`), undefined);
  assert.deepEqual(reopened.cells(`0x${'cd'.repeat(32)}`), []);
  reopened.close();

});

test('an identity is created once, written before use, and reused', async () => {
  const dir = await tempDir();
  const first = await loadOrCreateIdentity(dir);
  const second = await loadOrCreateIdentity(dir);
  assert.equal(second.account.address, first.account.address);
  assert.deepEqual(second.bls.publicKey, first.bls.publicKey);
  assert.equal(first.bls.publicKey.length, 48);
  const file = JSON.parse(await readFile(join(dir, IDENTITY_FILE), 'utf8')) as Record<string, unknown>;
  assert.equal(file.version, 1);

  const other = await loadOrCreateIdentity(await tempDir());
  assert.notEqual(other.account.address, first.account.address);

  await writeFile(join(dir, IDENTITY_FILE), '{"version":1,"privateKey":"0x12"}');
  await assert.rejects(loadOrCreateIdentity(dir), { code: 'DA_IDENTITY_MALFORMED' });
});
