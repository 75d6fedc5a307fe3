/**
 * Storage client throughput against a real devnet (`levity up` as a child process): our
 * uploadFile and downloadFile on 64 MiB and 256 MiB random files, next to the keccak limit
 * (what hashing alone allows) and the real 0G SDK on a 64 MiB file. Upload MB/s counts the
 * whole call: hashing, the submit tx, sending and waiting for the node to finalize.
 *
 * Knobs for quick runs: BENCH_STORAGE_MIB=64 (comma-separated sizes, default 64,256) and
 * BENCH_STORAGE_SDK=0 (skip the 0G SDK rows).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Indexer, ZgFile } from '@0gfoundation/0g-ts-sdk';
import { ethers } from 'ethers';
import type { Hex } from 'viem';
import { loadKeccak } from '../src/protocol/storage/index.ts';
import { downloadFile, uploadFile } from '../src/sdk/index.ts';
import { report } from './report.ts';
import { startDevnet } from '../test/e2e/devnet-process.ts';
import { quietly } from '../test/e2e/storage-helpers.ts';

const MIB = 1024 * 1024;
const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
const mbps = (bytes: number, time: number) => bytes / 1e6 / time;

/** keccak256 over 64 MiB in 256-byte chunks, best of 3: the ceiling for anything that hashes. */
async function keccakLimit(): Promise<number> {
  const keccak = await loadKeccak();
  const data = randomBytes(64 * MIB);
  let best = Infinity;
  for (let round = 0; round < 4; round++) {
    const start = process.hrtime.bigint();
    for (let offset = 0; offset < data.length; offset += 256) keccak.hash(data.subarray(offset, offset + 256));
    if (round > 0) best = Math.min(best, seconds(start)); // round 0 warms up
  }
  return mbps(data.length, best);
}

async function randomFile(path: string, size: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    for (let offset = 0; offset < size; offset += 16 * MIB) await handle.write(randomBytes(Math.min(16 * MIB, size - offset)));
  } finally {
    await handle.close();
  }
}

const dir = await mkdtemp(join(tmpdir(), 'levity-bench-storage-'));
let devnet: Awaited<ReturnType<typeof startDevnet>> | undefined;
try {
  const limit = await keccakLimit();
  report({ bench: 'storage', name: 'keccak256 limit, 64 MiB in 256 B chunks', value: limit, unit: 'MB/s', note: 'best of 3, one thread' });

  devnet = await startDevnet(join(dir, 'devnet'));
  const { chain, storage } = devnet.manifest;
  const indexer = storage!.indexer;

  const sizes = (process.env.BENCH_STORAGE_MIB ?? '64,256').split(',').map((mib) => Number(mib) * MIB);
  for (const size of sizes) {
    const label = `${size / MIB} MiB`;
    const path = join(dir, `ours-${label}`);
    await randomFile(path, size);
    let start = process.hrtime.bigint();
    // Phase boundaries, to tell the client's hashing from the node's accepting of segments.
    const firstSeen = new Map<string, number>();
    const uploaded = await uploadFile({
      path,
      indexer,
      rpc: chain.rpc,
      privateKey: chain.accounts[1]!.privateKey as Hex,
      onProgress: (p) => {
        if (!firstSeen.has(p.phase)) firstSeen.set(p.phase, seconds(start));
        if (p.phase === 'hash' && p.done === p.total) firstSeen.set('hashed', seconds(start));
      },
    });
    const total = seconds(start);
    const up = mbps(size, total);
    const hashed = mbps(size, firstSeen.get('hashed')!);
    const sent = mbps(size, total - firstSeen.get('upload')!);
    const note = `1 replica, binary batches; hash pass ${hashed.toFixed(0)} MB/s (all cores), send + finalize ${sent.toFixed(0)} MB/s`;
    report({ bench: 'storage', name: `uploadFile ${label}`, value: up, unit: 'MB/s', note });
    report({ bench: 'storage', name: `uploadFile ${label} / keccak limit`, value: (100 * up) / limit, unit: '%', target: '≥ 40 %' });

    start = process.hrtime.bigint();
    await downloadFile({ root: uploaded.root, out: join(dir, `down-${label}`), indexer });
    const verified = 'binary batches, every segment verified (worker threads)';
    report({ bench: 'storage', name: `downloadFile ${label}`, value: mbps(size, seconds(start)), unit: 'MB/s', target: '≥ 300 MB/s', note: verified });
    await rm(join(dir, `down-${label}`));
  }

  if (process.env.BENCH_STORAGE_SDK !== '0') await sdkRows(dir, chain, indexer);
} finally {
  await devnet?.stop();
  await rm(dir, { recursive: true, force: true });
}

/** The real 0G SDK on a file of its own: it skips files the nodes already hold, which would time nothing. */
async function sdkRows(dir: string, chain: { rpc: string; accounts: { privateKey: string }[] }, indexer: string): Promise<void> {
  const sdkFile = join(dir, 'sdk-64MiB');
  await randomFile(sdkFile, 64 * MIB);
  const signer = new ethers.Wallet(chain.accounts[2]!.privateKey, new ethers.JsonRpcProvider(chain.rpc)) as unknown as Parameters<Indexer['upload']>[2];
  const sdkIndexer = new Indexer(indexer);
  let start = process.hrtime.bigint();
  const file = await ZgFile.fromFilePath(sdkFile);
  const [result, error] = await quietly(() => sdkIndexer.upload(file, chain.rpc, signer));
  await file.close();
  if (error) throw error;
  report({ bench: 'storage', name: '0G SDK 1.2.8 Indexer.upload 64 MiB', value: mbps(64 * MIB, seconds(start)), unit: 'MB/s', note: 'ZgFile.fromFilePath, ethers 6.13.1' });
  start = process.hrtime.bigint();
  const downloadError = await quietly(() => sdkIndexer.download((result as { rootHash: string }).rootHash, join(dir, 'sdk-down'), false));
  if (downloadError) throw downloadError;
  report({ bench: 'storage', name: '0G SDK 1.2.8 Indexer.download 64 MiB', value: mbps(64 * MIB, seconds(start)), unit: 'MB/s', note: 'no verification' });
}
