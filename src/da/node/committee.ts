import type { Address, PublicClient } from 'viem';
import type { Committee } from '../../protocol/da/types.ts';
import { readCommittee } from '../../sdk/da/committee.ts';

/** The contract's current committee, read the way any client reads it. */
export function readCommitteeFromChain(client: PublicClient, contract: Address): Promise<Committee> {
  return readCommittee({ client, contract });
}

export type CommitteeCache = {
  /** The cached committee (read once if none is cached yet). */
  current(): Promise<Committee>;
  /**
   * The committee for a request that names `epoch`: the cached one when it matches, otherwise a
   * fresh read (which may still be another epoch: the caller decides what that means).
   */
  forEpoch(epoch: bigint): Promise<Committee>;
  refresh(): Promise<Committee>;
  peek(): Committee | undefined;
};

/**
 * Caches the committee: it only changes with a registration (a new epoch), so one read per
 * epoch suffices. Concurrent refreshes share one chain read, so a burst of requests naming a
 * new epoch costs one call.
 */
export function createCommitteeCache(read: () => Promise<Committee>): CommitteeCache {
  let cached: Committee | undefined;
  let inflight: Promise<Committee> | undefined;
  const refresh = () => {
    inflight ??= read()
      .then((committee) => {
        // Epochs only grow; a slow read must not replace a newer committee.
        if (!cached || committee.epoch >= cached.epoch) cached = committee;
        return cached;
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  };
  return {
    current: () => (cached ? Promise.resolve(cached) : refresh()),
    forEpoch: (epoch) => (cached && cached.epoch === epoch ? Promise.resolve(cached) : refresh()),
    refresh,
    peek: () => cached,
  };
}
