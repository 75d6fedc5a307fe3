/**
 * Every serving action bound to one user and one chain: what the CLI and most scripts want.
 *   const levity = await servingClient({ rpc, privateKey, ledger, registry });
 *   await levity.deposit(parseEther('1'));
 *   const [service] = await levity.listServices();
 *   const openai = new OpenAI({ baseURL: service.url + '/v1', apiKey: 'levity', fetch: levity.billingFetch(service) });
 */
import { createPublicClient, createWalletClient, defineChain, http } from 'viem';
import type { Address, Hex, LocalAccount, PublicClient } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { InvalidInputError } from '../../protocol/errors.ts';
import { billingFetch } from './billing-fetch.ts';
import type { BillingFetch, BillingFetchParameters } from './billing-fetch.ts';
import { claimRefund, deposit, fund, ledgerAccount, requestRefund, subAccount, withdraw } from './ledger.ts';
import type { ServingWallet } from './ledger.ts';
import { listServices } from './services.ts';
import { withSerialSends } from '../serial-sends.ts';

export type ServingClientParameters = {
  ledger: Address;
  registry?: Address;
} & ({ rpc: string; privateKey: Hex } | { client: PublicClient; wallet: ServingWallet & { account: LocalAccount } });

export type ServingClient = Awaited<ReturnType<typeof servingClient>>;

export async function servingClient(parameters: ServingClientParameters) {
  const { client, wallet } = 'rpc' in parameters ? await httpClients(parameters.rpc, parameters.privateKey) : parameters;
  const { ledger } = parameters;
  const chainId = wallet.chain?.id ?? (await client.getChainId());
  const account = wallet.account;
  const base = { client, wallet, ledger };
  return {
    account,
    chainId,
    ledger,
    client,
    wallet,
    deposit: (amount: bigint) => deposit({ ...base, amount }),
    withdraw: (amount: bigint) => withdraw({ ...base, amount }),
    fund: (provider: Address, amount: bigint) => fund({ ...base, provider, amount }),
    requestRefund: (provider: Address, amount?: bigint) => requestRefund({ ...base, provider, amount }),
    claimRefund: (provider: Address) => claimRefund({ ...base, provider }),
    ledgerAccount: (user: Address = account.address) => ledgerAccount({ client, ledger, user }),
    subAccount: (provider: Address, user: Address = account.address) => subAccount({ client, ledger, user, provider }),
    listServices: () => {
      if (!parameters.registry) throw new InvalidInputError('SERVING_NO_REGISTRY', 'servingClient was given no ServiceRegistry address');
      return listServices({ client, registry: parameters.registry });
    },
    billingFetch: (
      service: { provider: Address; url: string },
      options: Pick<BillingFetchParameters, 'fetch' | 'onReceipt' | 'defaultMaxTokens'> = {},
    ): BillingFetch => billingFetch({ account, chainId, ledger, provider: service.provider, url: service.url, ...options }),
  };
}

async function httpClients(rpc: string, privateKey: Hex): Promise<{ client: PublicClient; wallet: ServingWallet & { account: LocalAccount } }> {
  // viem polls every 4 s over HTTP by default; a local chain mines at once.
  const client = createPublicClient({ transport: http(rpc, { retryCount: 1 }), pollingInterval: 100 }) as PublicClient;
  const id = await client.getChainId();
  const chain = defineChain({ id, name: `chain ${id}`, nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [rpc] } } });
  const wallet = withSerialSends(createWalletClient({ account: privateKeyToAccount(privateKey), chain, transport: http(rpc, { retryCount: 1 }) }));
  return { client, wallet };
}
