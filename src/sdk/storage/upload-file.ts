import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { LevityError, UpstreamError, errorMessage } from '../../protocol/errors.ts';
import { loadKeccak } from '../../protocol/storage/index.ts';
import { jsonRpcClient } from '../../storage/client.ts';
import type { JsonRpcClient } from '../../storage/client.ts';
import { hashFile } from './hash-file.ts';
import { isLevityNode } from './levity-node.ts';
import { assertPositiveInteger, requestTimeout, StorageClientErrorCode, waitFor } from './node-rpc.ts';
import type { ShardedNode, StorageFileInfo, ZgsStatus } from './node-rpc.ts';
import { sendBatches, sendSegmentsRpc } from './send-segments.ts';
import { chainClient, findSubmitTx, submitContext, submitFile } from './submit-file.ts';

export type UploadPhase = 'hash' | 'submit' | 'upload' | 'finalize';
export type UploadProgress = { phase: UploadPhase; done: number; total: number };

export type UploadFileParameters = {
  path: string;
  /** Indexer JSON-RPC URL; storage nodes are chosen from its `trusted` list. */
  indexer: string;
  /** EVM JSON-RPC URL of the chain that holds the Flow contract. */
  rpc: string;
  privateKey: Hex;
  /** Nodes that must each hold the whole file (default 1). */
  replicas?: number;
  /**
   * Upload requests in flight per node (default 8): 4 MiB batches to Levity nodes (enough to keep
   * a node's hashing threads and its disk busy at once), 1 MiB JSON-RPC calls to others.
   */
  concurrency?: number;
  /** Limit on each wait: receipt, nodes seeing the tx, finality (default 120 s). */
  timeoutMs?: number;
  /** Send Levity's binary batches to nodes that take them (default true); false uses 0G's JSON-RPC only. */
  binary?: boolean;
  onProgress?: (progress: UploadProgress) => void;
};

export type UploadFileReturnType = {
  root: Hex;
  /** The submit tx; for a file already stored, the tx that stored it (`0x` if the chain no longer shows it). */
  txHash: Hex;
  txSeq: number;
  size: number;
  nodes: string[];
  /** True when every chosen node already had the file finalized: nothing was paid or sent. */
  alreadyStored: boolean;
};

export const defaultUploadFileOptions = { replicas: 1, concurrency: 8, timeoutMs: 120_000 } as const;

/** How long a node gets to say whether it speaks Levity's binary routes. */
const PROBE_MS = 2_000;

/**
 * Uploads a file to `replicas` storage nodes and returns once every one of them reports it
 * finalized. The file is read twice (hash, on every core, then segments) and never held whole;
 * every wait is bounded; every error after hashing carries the root, and the tx hash once there
 * is one. Levity nodes get binary batches and read the chain the moment a batch names a tx they
 * have not seen; other nodes get 0G's JSON-RPC after they report the tx. Re-uploading a stored
 * file costs nothing: nodes that have it are skipped, and a tx already on chain for the same
 * root and size is reused instead of paying again.
 */
export async function uploadFile(parameters: UploadFileParameters): Promise<UploadFileReturnType> {
  const replicas = parameters.replicas ?? defaultUploadFileOptions.replicas;
  const concurrency = parameters.concurrency ?? defaultUploadFileOptions.concurrency;
  const timeoutMs = parameters.timeoutMs ?? defaultUploadFileOptions.timeoutMs;
  assertPositiveInteger('replicas', replicas);
  assertPositiveInteger('concurrency', concurrency);
  assertPositiveInteger('timeoutMs', timeoutMs);
  const progress = parameters.onProgress ?? (() => undefined);
  const keccak = await loadKeccak();

  // The node list, the Flow the first node follows and the chain's price do not depend on the
  // file: ask for them while it hashes. (A failure here is retried below, where it is reported.)
  // Asked once the hashing threads are starting: a process's first request loads Node's fetch,
  // ~20 ms of this thread that would otherwise come before they are even spawned.
  let hashingStarted = () => {};
  const started = new Promise<void>((resolve) => (hashingStarted = resolve));
  const listing = started
    .then(() => listNodes(parameters.indexer, replicas, timeoutMs))
    .then(
      (urls) => ({ urls }),
      (error: unknown) => ({ error: error as LevityError }),
    );
  const chain = chainClient(parameters.rpc);
  const early = listing.then(async (listed) => {
    if ('error' in listed) return undefined;
    const url = listed.urls[0]!;
    const status = await jsonRpcClient(url, { timeoutMs: requestTimeout(timeoutMs) }).call<ZgsStatus>('zgs_getStatus');
    return { url, status, context: await submitContext(chain, status.networkIdentity.flowAddress) };
  });
  early.catch(() => undefined);
  // The signer's address takes ~40 ms of CPU the first time in a process (the curve's tables):
  // derived early in the hashing, while its threads start, rather than at its end (where it
  // would hold up collecting their last results) or on the way to the submit. An invalid key is
  // reported by submitFile, which derives it again.
  const signer = started
    .then(() => new Promise((resolve) => setImmediate(resolve)))
    .then(() => privateKeyToAccount(parameters.privateKey));
  signer.catch(() => undefined);
  const tree = await hashFile({ path: parameters.path, keccak, onStart: hashingStarted, onProgress: (p) => progress({ phase: 'hash', ...p }) });
  const root = tree.rootHex;
  const size = tree.size;
  const meta: { root: Hex; txHash?: Hex; txSeq?: number; size: number } = { root, size };
  const fail = (code: string, message: string, extra: Record<string, unknown> = {}, cause?: unknown) =>
    new UpstreamError(code, message, { meta: { ...meta, ...extra }, cause, details: cause === undefined ? undefined : errorMessage(cause) });

  // Nodes that already hold this exact file (same root and size) come first, so a re-upload
  // lands where the file is and costs nothing; then nodes that know its tx; then the fastest.
  const listed = await listing;
  if ('error' in listed) throw fail(listed.error.code, listed.error.shortMessage, { ...listed.error.meta }, listed.error.cause);
  const candidates = listed.urls;
  const clients = new Map(candidates.map((url) => [url, jsonRpcClient(url, { timeoutMs: requestTimeout(timeoutMs) })]));
  const rpc = (url: string): JsonRpcClient => clients.get(url)!;
  const looked = await Promise.all(
    candidates.map(async (url) => ({ url, info: await rpc(url).call<StorageFileInfo | null>('zgs_getFileInfo', [root, true]).catch(() => null) })),
  );
  const same = (info: StorageFileInfo | null): info is StorageFileInfo => info !== null && info.tx.size === size;
  const rank = ({ info }: { info: StorageFileInfo | null }) => (same(info) ? (info.finalized ? 0 : 1) : 2);
  const chosen = looked.map((node, order) => ({ ...node, order })).sort((a, b) => rank(a) - rank(b) || a.order - b.order).slice(0, replicas);
  const nodes = chosen.map((node) => node.url);
  const pending = chosen.filter((node) => rank(node) !== 0).map((node) => node.url);
  const known = chosen.map((node) => node.info).find(same);
  // Which pending nodes take binary batches: asked now, answered by the time the tx is mined.
  const probing = Promise.all(pending.map(async (url) => ({ url, levity: parameters.binary !== false && (await isLevityNode(url, PROBE_MS)) })));

  // The node names the Flow it follows, so the client needs no contract address of its own.
  const prefetched = await early.catch(() => undefined);
  const reuse = prefetched !== undefined && prefetched.url === nodes[0] ? prefetched : undefined;
  const status = reuse
    ? reuse.status
    : await rpc(nodes[0]!)
        .call<ZgsStatus>('zgs_getStatus')
        .catch((error: unknown) => {
          throw fail(StorageClientErrorCode.uploadFailed, `cannot read the status of storage node ${nodes[0]}`, { node: nodes[0] }, error);
        });
  const flow = status.networkIdentity.flowAddress;
  const context = reuse?.context;

  progress({ phase: 'submit', done: 0, total: 1 });
  if (known) {
    meta.txSeq = known.tx.seq;
    meta.txHash = (await findSubmitTx(chain, flow, tree.submission, known.tx.seq)) ?? '0x';
  } else {
    try {
      const sent = await submitFile({
        chain,
        flow,
        privateKey: parameters.privateKey,
        submission: tree.submission,
        timeoutMs,
        context,
        account: await signer.catch(() => undefined),
        onSent: (txHash) => (meta.txHash = txHash),
      });
      if (sent.reverted) throw fail(StorageClientErrorCode.submitFailed, `the Flow submit tx ${sent.txHash} reverted`);
      meta.txSeq = sent.txSeq;
    } catch (error) {
      if (error instanceof LevityError) throw error;
      const timedOut = /timed? ?out/i.test(errorMessage(error));
      const code = timedOut ? StorageClientErrorCode.uploadTimeout : StorageClientErrorCode.submitFailed;
      throw fail(code, `submitting ${root} to the Flow contract ${flow} failed`, {}, error);
    }
  }
  const txSeq = meta.txSeq;
  const done = (alreadyStored: boolean): UploadFileReturnType => ({ root, txHash: meta.txHash ?? '0x', txSeq, size, nodes, alreadyStored });
  if (pending.length === 0) {
    progress({ phase: 'submit', done: 1, total: 1 });
    progress({ phase: 'finalize', done: nodes.length, total: nodes.length });
    return done(true);
  }

  const probed = await probing;
  const fast = probed.filter((node) => node.levity).map((node) => node.url);
  const slow = probed.filter((node) => !node.levity).map((node) => node.url);

  // 0G nodes learn of a file only from the chain's Submit log, a little after the receipt.
  const seesTx = async (url: string) => (await rpc(url).call<StorageFileInfo | null>('zgs_getFileInfoByTxSeq', [txSeq])) !== null;
  await waitFor(async () => (await Promise.all(slow.map(seesTx))).every(Boolean), {
    timeoutMs,
    onTimeout: (last) => fail(StorageClientErrorCode.uploadTimeout, `storage nodes did not see tx seq ${txSeq} within ${timeoutMs} ms`, { nodes: slow }, last),
  });
  progress({ phase: 'submit', done: 1, total: 1 });

  // Both kinds share one progress total: the bytes each node must receive.
  const total = size * pending.length;
  const sentBy = { fast: 0, slow: 0 };
  const report = (kind: keyof typeof sentBy) => (p: { done: number }) => {
    sentBy[kind] = p.done;
    progress({ phase: 'upload', done: sentBy.fast + sentBy.slow, total });
  };
  const common = { path: parameters.path, tree, txSeq, concurrency, keccak, timeoutMs, fail };
  const [finalizedFast] = await Promise.all([
    fast.length > 0 ? sendBatches({ ...common, nodes: fast, progress: report('fast') }) : new Set<string>(),
    slow.length > 0 ? sendSegmentsRpc({ ...common, nodes: slow, rpc, progress: report('slow') }) : undefined,
  ]);

  // A Levity node's last batch says whether it finalized; only the others are polled.
  const unconfirmed = pending.filter((url) => !finalizedFast.has(url));
  let finalized = 0;
  const isFinal = async (url: string) => (await rpc(url).call<StorageFileInfo | null>('zgs_getFileInfoByTxSeq', [txSeq]))?.finalized === true;
  await waitFor(
    async () => {
      const states = await Promise.all(unconfirmed.map(isFinal));
      finalized = states.filter(Boolean).length;
      progress({ phase: 'finalize', done: nodes.length - unconfirmed.length + finalized, total: nodes.length });
      return finalized === unconfirmed.length;
    },
    {
      timeoutMs,
      onTimeout: (last) =>
        fail(StorageClientErrorCode.uploadTimeout, `${unconfirmed.length - finalized} of ${pending.length} nodes did not finalize ${root} within ${timeoutMs} ms`, { nodes: unconfirmed }, last),
    },
  );
  return done(false);
}

/** The indexer's trusted unsharded nodes, fastest first; at least `replicas` of them. */
async function listNodes(indexer: string, replicas: number, timeoutMs: number): Promise<string[]> {
  const meta = { indexer };
  let listed: { trusted?: ShardedNode[] | null };
  try {
    listed = await jsonRpcClient(indexer, { timeoutMs: requestTimeout(timeoutMs) }).call('indexer_getShardedNodes');
  } catch (cause) {
    throw new UpstreamError(StorageClientErrorCode.notEnoughNodes, `cannot list storage nodes at indexer ${indexer}`, { cause, meta, details: errorMessage(cause) });
  }
  // Each replica must hold every segment; sharded nodes would need a covering, which this client does not build.
  const whole = (listed.trusted ?? []).filter((node) => node.config.numShard < 2).sort((a, b) => a.latency - b.latency);
  if (whole.length < replicas) {
    throw new UpstreamError(StorageClientErrorCode.notEnoughNodes, `${replicas} replicas requested, but indexer ${indexer} lists ${whole.length} trusted unsharded storage nodes`, { meta });
  }
  return whole.map((node) => node.url);
}
