/** The storage subsystem's public entry. */
export { createStorageNode } from './storage-node.ts';
export type { StorageNode, StorageNodeOptions } from './storage-node.ts';
export { createIndexer } from './indexer.ts';
export type { Indexer, IndexerOptions, ShardedNode } from './indexer.ts';
export type { ShardConfig, FileInfo } from './storage-service.ts';
export { jsonRpcClient } from './client.ts';
