import type { Hex } from 'viem';
import { NotFoundError, UpstreamError, errorMessage } from '../../protocol/errors.ts';
import { jsonRpcClient } from '../../storage/client.ts';
import { assertRoot, requestTimeout, StorageClientErrorCode } from './node-rpc.ts';
import type { ShardConfig, ShardedNode, StorageFileInfo } from './node-rpc.ts';

export type FileInfoParameters = { root: Hex; indexer: string; timeoutMs?: number };

/** One storage node's view of a file. `found: false` when the node knows no tx with this root. */
export type FileLocation = {
  url: string;
  shard: ShardConfig;
  found: boolean;
  finalized: boolean;
  size?: number;
  txSeq?: number;
  uploadedSegNum?: number;
  pruned?: boolean;
  /** Why the node could not be asked, when it could not. */
  error?: string;
};

export type FileInfoReturnType = { root: Hex; finalized: boolean; locations: FileLocation[] };

/**
 * What every storage node the indexer knows says about a root. Unlike the indexer's
 * `getFileLocations`, which lists only finalized copies, this shows unfinished uploads too
 * (how many segments arrived), which is what someone debugging a stuck upload needs.
 * Throws NotFoundError when no node knows the root at all.
 */
export async function fileInfo(parameters: FileInfoParameters): Promise<FileInfoReturnType> {
  const { root, indexer } = parameters;
  assertRoot(root);
  const timeoutMs = requestTimeout(parameters.timeoutMs ?? 10_000);
  let listed: { trusted?: ShardedNode[] | null; discovered?: ShardedNode[] | null };
  try {
    listed = await jsonRpcClient(indexer, { timeoutMs }).call('indexer_getShardedNodes');
  } catch (cause) {
    throw new UpstreamError(StorageClientErrorCode.fileNotFound, `cannot list storage nodes at indexer ${indexer}`, { cause, meta: { root }, details: errorMessage(cause) });
  }
  const nodes = [...(listed.trusted ?? []), ...(listed.discovered ?? [])];
  const locations = await Promise.all(
    nodes.map(async (node): Promise<FileLocation> => {
      const base = { url: node.url, shard: node.config, found: false, finalized: false };
      try {
        const info = await jsonRpcClient(node.url, { timeoutMs }).call<StorageFileInfo | null>('zgs_getFileInfo', [root, true]);
        if (!info) return base;
        return { ...base, found: true, finalized: info.finalized, size: info.tx.size, txSeq: info.tx.seq, uploadedSegNum: info.uploadedSegNum, pruned: info.pruned };
      } catch (error) {
        return { ...base, error: errorMessage(error) };
      }
    }),
  );
  if (!locations.some((location) => location.found)) {
    const unreachable = locations.filter((location) => location.error).length;
    const asked = `${locations.length} storage node${locations.length === 1 ? '' : 's'}`;
    throw new NotFoundError(StorageClientErrorCode.fileNotFound, `none of ${asked} knows root ${root}`, {
      meta: { root, locations },
      details: unreachable > 0 ? `${unreachable} could not be reached` : undefined,
    });
  }
  return { root, finalized: locations.some((location) => location.finalized), locations };
}
