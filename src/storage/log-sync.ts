import { getAbiItem } from 'viem';
import type { Address, PublicClient } from 'viem';
import { flowAbi } from '../protocol/storage-flow-abi.ts';
import { submissionRoot } from '../protocol/storage/index.ts';
import type { Keccak } from '../protocol/storage/index.ts';
import type { Logger } from '../shared/log.ts';
import type { Startable } from '../shared/lifecycle.ts';
import type { StoredTx, TxStore } from './tx-store.ts';

const submitEvent = getAbiItem({ abi: flowAbi, name: 'Submit' });
const PAGE_BLOCKS = 999n;

export type LogSyncOptions = {
  client: PublicClient;
  flow: Address;
  store: TxStore;
  keccak: Keccak;
  log: Logger;
  pollMs?: number;
  /** Told about each new submission once it is durable. */
  onTx?: (tx: StoredTx) => void;
};

export type LogSync = Startable & {
  /** Reads the chain up to its head once; returns how many submissions were new. */
  syncOnce(): Promise<number>;
};

/**
 * Follows Flow `Submit` events. The cursor (last block read) is committed in the same SQLite
 * transaction as the submissions it covers, so a crash never skips or doubles one.
 */
export function createLogSync(options: LogSyncOptions): LogSync {
  const { client, flow, store, keccak, log } = options;
  const pollMs = options.pollMs ?? 100;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = true;

  let current: Promise<number> | undefined;
  let queued: Promise<number> | undefined;

  /**
   * One read of the chain at a time, shared: the poll and on-demand reads (an upload for a tx
   * just mined) never run side by side, and callers arriving during a read share the next one.
   */
  function syncOnce(): Promise<number> {
    if (!current) {
      current = readChain().finally(() => (current = undefined));
      return current;
    }
    queued ??= current
      .catch(() => 0)
      .then(() => {
        queued = undefined;
        return syncOnce();
      });
    return queued;
  }

  async function readChain(): Promise<number> {
    const head = await client.getBlockNumber({ cacheTime: 0 });
    let from = BigInt((store.syncedBlock() ?? -1) + 1);
    let added = 0;
    while (from <= head) {
      const to = from + PAGE_BLOCKS < head ? from + PAGE_BLOCKS : head;
      const logs = await client.getLogs({ address: flow, event: submitEvent, fromBlock: from, toBlock: to, strict: true });
      const txs = logs.map((entry) => {
        const { submissionIndex, startPos, submission } = entry.args;
        return {
          seq: Number(submissionIndex),
          root: submissionRoot(keccak, submission.nodes),
          size: Number(submission.length),
          startEntryIndex: Number(startPos),
          merkleNodes: submission.nodes.map((node) => [Number(node.height) + 1, node.root] as [number, `0x${string}`]),
          blockNumber: Number(entry.blockNumber),
        };
      });
      store.addSynced(txs, Number(to));
      for (const tx of txs) options.onTx?.({ ...tx, finalized: false, uploadedSegments: 0 });
      added += txs.length;
      from = to + 1n;
    }
    return added;
  }

  const tick = () => {
    running = syncOnce()
      .then((added) => added > 0 && log.debug({ added }, 'log sync'))
      .catch((err: unknown) => log.warn({ err }, 'log sync failed; retrying'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, pollMs);
      });
  };

  return {
    syncOnce,
    async start() {
      stopped = false;
      await syncOnce();
      timer = setTimeout(tick, pollMs);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await Promise.allSettled([current, queued]);
    },
  };
}
