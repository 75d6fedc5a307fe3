import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileTree, loadKeccak } from '../../src/protocol/storage/index.ts';
import { runCli, startDevnet } from './devnet-process.ts';
import type { CliResult, RunningDevnet } from './devnet-process.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZES = [1, 256, 257, 256 * KiB, 256 * KiB + 1, 5 * MiB + 1];

type UploadJson = { root: string; txHash: string; txSeq: number; size: number; nodes: string[]; alreadyStored: boolean; mbps: number };
type InfoJson = { root: string; finalized: boolean; locations: Array<{ url: string; found: boolean; finalized: boolean; size?: number; txSeq?: number }> };

function json<T>(result: CliResult): T {
  assert.equal(result.code, 0, `exit ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

describe('levity storage upload | download | info against a devnet', () => {
  let dir: string;
  let devnet: RunningDevnet;
  const cli = (...args: string[]) => runCli([...args, '--devnet', join(dir, 'devnet')]);
  const uploaded = new Map<number, { path: string; bytes: Buffer; upload: UploadJson }>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-storage-cli-'));
    devnet = await startDevnet(join(dir, 'devnet'));
  });
  after(async () => {
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  for (const size of SIZES) {
    it(`round-trips ${size} bytes byte-exact, with our root`, async () => {
      const bytes = randomBytes(size);
      const path = join(dir, `in-${size}`);
      await writeFile(path, bytes);
      const upload = json<UploadJson>(await cli('storage', 'upload', path, '--json'));
      assert.equal(upload.root, fileTree(await loadKeccak(), bytes).rootHex);
      assert.equal(upload.size, size);
      assert.match(upload.txHash, /^0x[0-9a-f]{64}$/);
      assert.equal(upload.alreadyStored, false);
      assert.ok(Number.isInteger(upload.txSeq) && upload.txSeq >= 0);
      uploaded.set(size, { path, bytes, upload });

      const out = join(dir, `out-${size}`);
      const download = json<{ root: string; size: number; out: string }>(await cli('storage', 'download', upload.root, out, '--json'));
      assert.equal(download.size, size);
      assert.ok((await readFile(out)).equals(bytes), 'downloaded bytes are identical');
    });
  }

  it('info shows the file finalized where it was uploaded', async () => {
    const { upload } = uploaded.get(5 * MiB + 1)!;
    const info = json<InfoJson>(await cli('storage', 'info', upload.root, '--json'));
    assert.equal(info.finalized, true);
    const where = info.locations.find((location) => location.url === upload.nodes[0]);
    assert.deepEqual(
      { found: where?.found, finalized: where?.finalized, size: where?.size, txSeq: where?.txSeq },
      { found: true, finalized: true, size: 5 * MiB + 1, txSeq: upload.txSeq },
    );
    const text = await cli('storage', 'info', upload.root);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /finalized/);
  });

  it('re-uploading the same file is idempotent: same root and tx, nothing paid or sent', async () => {
    const { path, upload } = uploaded.get(256 * KiB + 1)!;
    const again = json<UploadJson>(await cli('storage', 'upload', path, '--json'));
    assert.equal(again.alreadyStored, true);
    assert.deepEqual([again.root, again.txSeq, again.txHash], [upload.root, upload.txSeq, upload.txHash]);
  });

  it('a second replica reuses the tx on chain instead of submitting again', async () => {
    const { path, upload } = uploaded.get(257)!;
    const both = json<UploadJson>(await cli('storage', 'upload', path, '--replicas', '2', '--json'));
    assert.equal(both.nodes.length, 2);
    assert.deepEqual([both.root, both.txSeq], [upload.root, upload.txSeq]);
    const info = json<InfoJson>(await cli('storage', 'info', upload.root, '--json'));
    assert.deepEqual(
      info.locations.map((location) => location.finalized),
      info.locations.map(() => true),
    );
  });

  it('prints a readable summary without --json', async () => {
    const path = join(dir, 'text');
    await writeFile(path, randomBytes(1000));
    const result = await cli('storage', 'upload', path);
    assert.equal(result.code, 0, result.stderr);
    for (const label of ['root', 'tx seq', 'tx hash', 'size', 'MB/s']) assert.ok(result.stdout.includes(label), `${label} in ${result.stdout}`);
    assert.equal(result.stderr, '', 'no progress bar when stderr is not a terminal');
  });

  it('refuses to download over an existing file and leaves it untouched', async () => {
    const { upload } = uploaded.get(256)!;
    const out = join(dir, 'existing');
    await writeFile(out, 'keep me');
    const result = await cli('storage', 'download', upload.root, out);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /already exists/);
    assert.equal(await readFile(out, 'utf8'), 'keep me');
  });

  it('an unknown root fails clearly, with a non-zero exit', async () => {
    const root = `0x${randomBytes(32).toString('hex')}`;
    const download = await cli('storage', 'download', root, join(dir, 'never'));
    assert.equal(download.code, 1);
    assert.match(download.stderr, new RegExp(`no storage node holds a finalized copy of ${root}`));
    const info = await cli('storage', 'info', root);
    assert.equal(info.code, 1);
    assert.match(info.stderr, /knows root/);
  });

  it('bad arguments are usage errors (exit 2)', async () => {
    const { path } = uploaded.get(1)!;
    for (const args of [
      ['storage', 'upload', path, '--replicas', '0'],
      ['storage', 'upload', join(dir, 'missing')],
      ['storage', 'upload', path, '--key', '0x1234'],
      ['storage', 'download', '0x1234', join(dir, 'bad-root')],
      ['storage', 'info', 'not-a-root'],
      ['storage', 'download', `0x${'00'.repeat(32)}`],
    ]) {
      const result = await cli(...args);
      assert.equal(result.code, 2, `${args.join(' ')} → ${result.code}: ${result.stderr}`);
      assert.match(result.stderr, /^levity: /);
    }
    const tooMany = await cli('storage', 'upload', path, '--replicas', '9');
    assert.equal(tooMany.code, 1);
    assert.match(tooMany.stderr, /9 replicas requested/);
  });
});
