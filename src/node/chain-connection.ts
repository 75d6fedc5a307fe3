import { createPublicClient, createWalletClient, custom, http, webSocket } from 'viem';
import type { Account, Chain, PublicClient, Transport, WalletClient } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { levityChain } from '../chain/index.ts';
import type { DevAccount, Eip1193Provider } from '../chain/index.ts';
import { UpstreamError } from '../protocol/errors.ts';
import { withSerialSends } from '../sdk/serial-sends.ts';

/** How a node reaches its settlement chain, and who it signs as there. */
export type ChainConnection = {
  rpc: string;
  chainId: number;
  chain: Chain;
  client: PublicClient;
  wallet: WalletClient<Transport, Chain, Account>;
  /** Accounts to publish in a manifest: all dev accounts, or the one operator key. */
  accounts: DevAccount[];
  /** A wallet for another key on the same chain (a role that signs as itself). */
  walletFor(account: Account): WalletClient<Transport, Chain, Account>;
};

/**
 * In-process connection to the embedded chain: requests skip HTTP but still pass through
 * the journal. Hardhat throws its own errors, which viem would otherwise retry.
 */
export function embeddedConnection(provider: Eip1193Provider, rpc: string, chainId: number, accounts: DevAccount[]): ChainConnection {
  const [operator] = accounts;
  if (!operator) throw new UpstreamError('CHAIN_NO_ACCOUNTS', 'the embedded chain has no dev accounts');
  return connection(custom(provider, { retryCount: 0 }), rpc, chainId, operator, accounts);
}

/** Connection to an external EVM by URL, signing with the operator key given for it. */
export async function externalConnection(rpc: string, key: `0x${string}`): Promise<ChainConnection> {
  const transport = rpc.startsWith('ws') ? webSocket(rpc) : http(rpc);
  let chainId: number;
  try {
    chainId = await createPublicClient({ transport }).getChainId();
  } catch (cause) {
    throw new UpstreamError('CHAIN_UNREACHABLE', `cannot reach the chain at ${rpc}`, { cause, meta: { rpc } });
  }
  const account = privateKeyToAccount(key);
  return connection(transport, rpc, chainId, { address: account.address, privateKey: key }, [
    { address: account.address, privateKey: key },
  ]);
}


function connection(transport: Transport, rpc: string, chainId: number, operator: DevAccount, accounts: DevAccount[]): ChainConnection {
  const chain = levityChain(chainId, rpc);
  return {
    rpc,
    chainId,
    chain,
    client: createPublicClient({ chain, transport, pollingInterval: 50 }) as PublicClient,
    wallet: withSerialSends(createWalletClient({ chain, transport, account: privateKeyToAccount(operator.privateKey) })),
    accounts,
    walletFor: (account) => withSerialSends(createWalletClient({ chain, transport, account })),
  };
}
