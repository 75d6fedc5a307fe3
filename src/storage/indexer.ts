import type { Hex } from 'viem';
import { z } from 'zod';
import { LevityError } from '../protocol/errors.ts';
import { createRoleApp, listen } from '../shared/http.ts';
import type { RunningHttpServer } from '../shared/http.ts';
import { mountJsonRpc } from '../shared/json-rpc-route.ts';
import type { Startable } from '../shared/lifecycle.ts';
import type { Logger } from '../shared/log.ts';
import { jsonRpcClient } from './client.ts';
import { invalidParams } from './rpc-errors.ts';
import { methodHandler } from './storage-node.ts';
import type { FileInfo, ShardConfig } from './storage-service.ts';

/** A node as 0G's indexer lists it. */
export type ShardedNode = { url: string; config: ShardConfig; latency: number; since: number };

export type IndexerOptions = {
  host: string;
  port: number;
  /** The storage node URLs to index: from the manifest, the config and NodeRegistry. */
  nodeUrls: () => Promise<string[]>;
  log: Logger;
  probeTimeoutMs?: number;
};

export type Indexer = Startable & { readonly url: string };

/** Indexer requests are tiny; a small limit keeps junk from costing memory. */
const MAX_BODY_BYTES = 64 * 1024;
const root = z.string().regex(/^0x[0-9a-fA-F]{64}$/);

/**
 * The indexer: which storage nodes exist and which of them hold a file. It asks the nodes
 * themselves each time, so a node that is down is simply not listed, and clients route around it.
 */
export function createIndexer(options: IndexerOptions): Indexer {
  const log = options.log.child({ role: 'indexer' });
  const timeoutMs = options.probeTimeoutMs ?? 2000;
  const since = Math.floor(Date.now() / 1000);
  let http: RunningHttpServer | undefined;

  async function liveNodes(): Promise<ShardedNode[]> {
    const urls = [...new Set(await options.nodeUrls())];
    const probed = await Promise.all(
      urls.map(async (url): Promise<ShardedNode | undefined> => {
        const started = performance.now();
        try {
          const config = await jsonRpcClient(url, { timeoutMs }).call<ShardConfig>('zgs_getShardConfig');
          return { url, config, latency: Math.round(performance.now() - started), since };
        } catch {
          return undefined; // down or not a storage node: not listed
        }
      }),
    );
    return probed.filter((node) => node !== undefined);
  }

  const methods = {
    indexer_getShardedNodes: async () => ({ trusted: await liveNodes(), discovered: [] }),
    indexer_getFileLocations: async (params: unknown[]) => {
      const parsed = root.safeParse(params[0]);
      if (!parsed.success) throw invalidParams('root', 'expected a 32-byte 0x root');
      const nodes = await liveNodes();
      const holders = await Promise.all(
        nodes.map(async (node) => {
          const info = await jsonRpcClient(node.url, { timeoutMs })
            .call<FileInfo | null>('zgs_getFileInfo', [parsed.data as Hex, true])
            .catch(() => null);
          return info?.finalized ? node : undefined;
        }),
      );
      return holders.filter((node) => node !== undefined);
    },
    indexer_getNodeLocations: async () => {
      const nodes = await liveNodes();
      return Object.fromEntries(
        nodes.map((node) => [new URL(node.url).hostname, { city: 'local', region: 'local', country: 'devnet', location: '0,0', timezone: 'UTC' }]),
      );
    },
  };
  const handler = methodHandler(methods);

  return {
    get url() {
      if (!http) throw new LevityError('STORAGE_NOT_STARTED', 'the indexer is not running');
      return http.url;
    },
    async start() {
      const { app } = createRoleApp({ role: 'indexer', log, health: async () => ({ nodes: (await liveNodes()).length }) });
      mountJsonRpc(app, handler, { maxBodyBytes: MAX_BODY_BYTES });
      http = await listen(app, options.host, options.port);
      log.info({ url: http.url }, 'indexer ready');
    },
    async stop() {
      await http?.close();
      http = undefined;
    },
  };
}
