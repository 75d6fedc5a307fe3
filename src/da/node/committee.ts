import { getAddress, hexToBytes } from 'viem';
import type { Address, Hex, PublicClient } from 'viem';
import { g1FromEip2537 } from '../../protocol/da/bls-eip2537.ts';
import { daContractAbi } from '../../protocol/da/da-contract-abi.ts';
import type { Committee } from '../../protocol/da/types.ts';

type CommitteeResult = readonly [bigint, number, readonly Address[], readonly string[], readonly bigint[], readonly Hex[]];

/** The contract's current committee, keys decompressed to 48 bytes, replication capped at n. */
export async function readCommitteeFromChain(client: PublicClient, contract: Address): Promise<Committee> {
  const [epoch, replication, nodes, urls, stakes, publicKeys] = (await client.readContract({
    address: contract,
    abi: daContractAbi,
    functionName: 'committee',
  })) as unknown as CommitteeResult;
  return {
    epoch,
    replication: Math.min(Number(replication), nodes.length),
    members: nodes.map((address, index) => ({
      index,
      address: getAddress(address),
      url: urls[index] ?? '',
      stake: stakes[index] ?? 0n,
      publicKey: g1FromEip2537(hexToBytes(publicKeys[index] ?? '0x')),
    })),
  };
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
