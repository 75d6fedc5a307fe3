import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicClient, createWalletClient, http } from 'viem';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { levityChain } from '../../src/chain/index.ts';
import { fileTree, loadKeccak, SEGMENT_SIZE, segmentProver } from '../../src/protocol/storage/index.ts';
import type { FileTree, SegmentProof } from '../../src/protocol/storage/index.ts';
import { flowAbi, marketAbi } from '../../src/protocol/storage-flow-abi.ts';
import type { Manifest } from '../../src/protocol/manifest.ts';
import { startDevnet, startNode } from './devnet-process.ts';
import type { RunningDevnet, RunningNode } from './devnet-process.ts';

export type WireSegment = { root: Hex; data: string; index: number; proof: SegmentProof; fileSize: number };

/** A file ready to upload by hand over zgs_* JSON-RPC: its tree and its segments as the SDK sends them. */
export async function prepareFile(bytes: Buffer): Promise<{ tree: FileTree; segment: (index: number) => WireSegment }> {
  const keccak = await loadKeccak();
  const tree = fileTree(keccak, bytes);
  const prove = segmentProver(keccak, tree.segmentRoots);
  return {
    tree,
    segment(index) {
      const data = bytes.subarray(index * SEGMENT_SIZE, Math.min(bytes.length, (index + 1) * SEGMENT_SIZE));
      const padded = Buffer.concat([data, Buffer.alloc((256 - (data.length % 256)) % 256)]);
      return { root: tree.rootHex, data: padded.toString('base64'), index, proof: prove(index), fileSize: bytes.length };
    },
  };
}

/** Pays for and submits a file's tree to the devnet's Flow contract; resolves once mined. */
export async function submitFile(manifest: Manifest, tree: FileTree, accountIndex: number): Promise<void> {
  const { chain } = manifest;
  const viemChain = levityChain(chain.chainId, chain.rpc);
  const client = createPublicClient({ chain: viemChain, transport: http(), pollingInterval: 50 });
  const account = privateKeyToAccount(chain.accounts[accountIndex]!.privateKey as Hex);
  const wallet = createWalletClient({ chain: viemChain, transport: http(), account });
  const price = await client.readContract({ address: chain.contracts.Market as Hex, abi: marketAbi, functionName: 'pricePerSector' });
  const sectors = tree.submission.nodes.reduce((sum, n) => sum + 2n ** BigInt(n.height), 0n);
  const hash = await wallet.writeContract({
    address: chain.contracts.Flow as Hex,
    abi: flowAbi,
    functionName: 'submit',
    args: [
      {
        data: { length: BigInt(tree.size), tags: '0x', nodes: tree.submission.nodes.map((n) => ({ root: n.root, height: BigInt(n.height) })) },
        submitter: account.address,
      },
    ],
    value: sectors * price,
  });
  await client.waitForTransactionReceipt({ hash });
}

/** The tx seq a node gives a submitted root, once it has followed the submission. */
export function seqOnNode(url: string, root: Hex): Promise<number> {
  return eventually(async () => ((await rawRpc(url, 'zgs_getFileInfo', [root, true])).body.result as { tx: { seq: number } } | null)?.tx.seq);
}

/** A devnet with no storage nodes of its own, and one node the test may kill and start again on the same disk. */
export type LoneStorageNode = {
  readonly dir: string;
  readonly devnet: RunningDevnet;
  /** The node as last started. */
  node(): RunningNode;
  url(): string;
  restart(): Promise<void>;
  stop(): Promise<void>;
};

/**
 * `joinByUrl`: the node finds the devnet as one on another host would, by a URL serving its
 * manifest, instead of by its data dir.
 */
export async function startLoneStorageNode(prefix: string, options: { joinByUrl?: boolean } = {}): Promise<LoneStorageNode> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const devnet = await startDevnet(join(dir, 'devnet'), [], 60_000, { LEVITY_STORAGE_NODES: '0' });
  const manifestServer = options.joinByUrl
    ? createServer((_request, response) => {
        readFile(join(dir, 'devnet', 'manifest.json')).then(
          (bytes) => response.writeHead(200, { 'content-type': 'application/json' }).end(bytes),
          () => response.writeHead(404).end(),
        );
      })
    : undefined;
  if (manifestServer) await new Promise<void>((resolve) => manifestServer.listen(0, '127.0.0.1', resolve));
  const joinAt = manifestServer ? `http://127.0.0.1:${(manifestServer.address() as AddressInfo).port}/manifest.json` : join(dir, 'devnet');
  const start = () => startNode(['--role', 'storage-node', '--devnet', joinAt, '--data-dir', join(dir, 'node'), '--port-base', '0']);
  const closeAll = async () => {
    if (manifestServer) await new Promise<void>((resolve) => manifestServer.close(() => resolve()));
    await devnet.stop();
    await rm(dir, { recursive: true, force: true });
  };
  let node: RunningNode | undefined;
  try {
    node = await start();
  } catch (error) {
    await closeAll();
    throw error;
  }
  let current = node;
  return {
    dir,
    devnet,
    node: () => current,
    url: () => current.endpoints[0]!.url,
    async restart() {
      await current.stop();
      current = await start();
    },
    async stop() {
      await current.stop();
      await closeAll();
    },
  };
}

export type RpcAnswer = { status: number; body: { result?: unknown; error?: { code: number; message: string; data?: unknown } } };

/** Raw JSON-RPC, so tests see exactly what a client sees (status, error object). */
export async function rawRpc(url: string, method: string, params?: unknown[]): Promise<RpcAnswer> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  return { status: response.status, body: (await response.json()) as RpcAnswer['body'] };
}

/** Polls until `probe` returns something, for waits with a deadline. */
export async function eventually<T>(probe: () => Promise<T | null | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The 0G SDKs narrate every step on console.log; keep test output readable. */
export async function quietly<T>(work: () => Promise<T>): Promise<T> {
  const log = console.log;
  console.log = () => undefined;
  try {
    return await work();
  } finally {
    console.log = log;
  }
}
