import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Address, Hex, PublicClient } from 'viem';
import { LevityError } from '../protocol/errors.ts';
import { loadKeccak, loadSegmentHasher } from '../protocol/storage/index.ts';
import { createRoleApp, listen } from '../shared/http.ts';
import type { RunningHttpServer } from '../shared/http.ts';
import { mountJsonRpc } from '../shared/json-rpc-route.ts';
import type { RpcHandler } from '../shared/json-rpc.ts';
import type { Startable } from '../shared/lifecycle.ts';
import type { Logger } from '../shared/log.ts';
import { fsSegmentStore } from './fs-segment-store.ts';
import { createLogSync } from './log-sync.ts';
import { toZgsRpcError } from './rpc-errors.ts';
import { createSegmentRootPool } from '../sdk/storage/segment-root-pool.ts';
import { mountSegmentRoutes } from './segment-routes.ts';
import { createStorageService } from './storage-service.ts';
import type { ShardConfig } from './storage-service.ts';
import { sqliteTxStore } from './tx-store.ts';
import { zgsMethods } from './zgs-rpc.ts';

/** 0G's node accepts bodies up to 100 MiB (a batch of segments). */
const MAX_BODY_BYTES = 100 * 1024 * 1024;
const ZERO_HASH: Hex = `0x${'0'.repeat(64)}`;
/**
 * Late enough not to slow a devnet's start, early enough to be ready for its first upload (a
 * hashing thread costs a few milliseconds of CPU to start: it reuses this thread's compiled module).
 */
const WARM_AFTER_MS = 200;

export type StorageNodeOptions = {
  dataDir: string;
  host: string;
  port: number;
  shard: ShardConfig;
  client: PublicClient;
  flow: Address;
  log: Logger;
  syncPollMs?: number;
  /** Worker threads that hash binary segment batches (default: one per core, at most 4; 0 hashes on the event loop). */
  hashThreads?: number;
};

export function defaultHashThreads(): number {
  return Math.min(4, availableParallelism());
}

export type StorageNode = Startable & { readonly url: string };

/** Serves a method table as JSON-RPC, turning thrown errors into 0G-shaped error objects. */
export function methodHandler(methods: Record<string, (params: unknown[]) => unknown>): RpcHandler {
  return {
    async request({ method, params }) {
      const run = Object.hasOwn(methods, method) ? methods[method] : undefined;
      if (!run) throw { code: -32601, message: 'Method not found' };
      try {
        return await run(Array.isArray(params) ? params : params === undefined ? [] : [params]);
      } catch (error) {
        throw toZgsRpcError(error);
      }
    },
  };
}

/**
 * A storage node: follows Flow submissions, accepts verified segments over `zgs_*` JSON-RPC
 * (and Levity's binary batch routes), and keeps bytes on disk (metadata in SQLite) so kill -9
 * loses nothing.
 */
export function createStorageNode(options: StorageNodeOptions): StorageNode {
  const log = options.log.child({ role: 'storage-node', shard: `${options.shard.shardId}/${options.shard.numShard}` });
  let running: { http: RunningHttpServer; stop: () => Promise<void> } | undefined;

  return {
    get url() {
      if (!running) throw new LevityError('STORAGE_NOT_STARTED', 'the storage node is not running');
      return running.http.url;
    },

    async start() {
      const keccak = await loadKeccak();
      const hasher = await loadSegmentHasher();
      const store = sqliteTxStore(join(options.dataDir, 'meta.sqlite'));
      const segments = fsSegmentStore({ dir: join(options.dataDir, 'segments') });
      const rootPool = createSegmentRootPool({ threads: options.hashThreads ?? defaultHashThreads() });
      let syncNow = (): Promise<unknown> => Promise.resolve();
      const service = createStorageService({ store, segments, keccak, shard: options.shard, hasher, rootPool, syncNow: () => syncNow() });
      const sync = createLogSync({
        client: options.client,
        flow: options.flow,
        store,
        keccak,
        log,
        pollMs: options.syncPollMs,
        onTx: (tx) => void service.adoptTx(tx).catch((err: unknown) => log.warn({ err }, 'finalize failed')),
      });
      syncNow = () => sync.syncOnce();
      const chainId = await options.client.getChainId();
      const status = async () => {
        const height = store.syncedBlock() ?? 0;
        const block = await options.client.getBlock({ blockNumber: BigInt(height) }).catch(() => undefined);
        return {
          connectedPeers: 0,
          logSyncHeight: height,
          logSyncBlock: block?.hash ?? ZERO_HASH,
          nextTxSeq: store.nextSeq(),
          networkIdentity: { chainId, flowAddress: options.flow, p2pProtocolVersion: { major: 0, minor: 4, build: 0 } },
        };
      };
      const handler = methodHandler(zgsMethods({ service, status }));
      const { app } = createRoleApp({
        role: 'storage-node',
        log,
        health: () => ({ shard: options.shard, logSyncHeight: store.syncedBlock() ?? 0, nextTxSeq: store.nextSeq() }),
      });
      mountJsonRpc(app, handler, { maxBodyBytes: MAX_BODY_BYTES });
      const routes = mountSegmentRoutes(app, service);
      const closeStores = async () => {
        await sync.stop();
        await rootPool.close();
        await segments.close();
        store.close();
      };
      let http: RunningHttpServer;
      try {
        await sync.start();
        http = await listen(app, options.host, options.port);
      } catch (error) {
        await closeStores(); // a failed start (chain unreachable, port taken) leaves no open files
        throw error;
      }
      // Hashing threads and batch buffers get ready in the background once the node is up, not on the first upload.
      const warming = setTimeout(() => {
        rootPool.warm();
        routes.warm();
      }, WARM_AFTER_MS);
      warming.unref();
      running = {
        http,
        stop: async () => {
          clearTimeout(warming);
          await http.close();
          await closeStores();
        },
      };
      log.info({ url: http.url, synced: store.syncedBlock() }, 'storage node ready');
    },

    async stop() {
      const current = running;
      running = undefined;
      await current?.stop();
    },
  };
}
