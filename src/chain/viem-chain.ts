import { defineChain } from 'viem';
import type { Chain } from 'viem';

/** A viem chain definition for a Levity chain (the devnet or an external EVM). */
export function levityChain(chainId: number, rpc: string): Chain {
  return defineChain({
    id: chainId,
    name: chainId === 31337 ? 'Levity devnet' : `Levity chain ${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpc] } },
  });
}
