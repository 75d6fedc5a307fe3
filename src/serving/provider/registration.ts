import { BaseError, ContractFunctionRevertedError } from 'viem';
import type { Account, Address, Chain, Hash, PublicClient, Transport, WalletClient } from 'viem';
import { UpstreamError, errorMessage } from '../../protocol/errors.ts';
import { serviceRegistryAbi } from '../../protocol/serving/service-registry-abi.ts';
import type { Logger } from '../../shared/log.ts';

export const SERVICE_TYPE_CHAT = 'chat';
export const VERIFIABILITY_SIGNED_RESPONSE = 'signed-response';

export type ServiceEntry = {
  name: string;
  serviceType: string;
  url: string;
  model: string;
  inputPricePerToken: bigint;
  outputPricePerToken: bigint;
  verifiability: string;
};

export type EnsureServiceOptions = {
  client: PublicClient;
  wallet: WalletClient<Transport, Chain, Account>;
  registry: Address;
  service: ServiceEntry;
  log: Logger;
};

/** Reads this provider's service of that name, or undefined when it is not registered. */
export async function readService(client: PublicClient, registry: Address, provider: Address, name: string): Promise<ServiceEntry | undefined> {
  try {
    const record = await client.readContract({ address: registry, abi: serviceRegistryAbi, functionName: 'service', args: [provider, name] });
    return {
      name: record.name,
      serviceType: record.serviceType,
      url: record.url,
      model: record.model,
      inputPricePerToken: record.inputPricePerToken,
      outputPricePerToken: record.outputPricePerToken,
      verifiability: record.verifiability,
    };
  } catch (error) {
    if (error instanceof BaseError) {
      const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
      if (reverted instanceof ContractFunctionRevertedError && reverted.data?.errorName === 'UnknownService') return undefined;
    }
    throw new UpstreamError('SERVING_REGISTRY_UNAVAILABLE', `could not read service ${name} from ${registry}: ${errorMessage(error)}`, {
      cause: error,
      meta: { registry, provider, name },
    });
  }
}

/**
 * Registers the service under the provider's address, or updates it when the on-chain record
 * differs (a new URL after a port change, new prices); a restart with the same settings sends
 * nothing. Returns the transaction, or undefined when the record was already right.
 */
export async function ensureServiceRegistered(options: EnsureServiceOptions): Promise<Hash | undefined> {
  const { client, wallet, registry, service, log } = options;
  const provider = wallet.account.address;
  const current = await readService(client, registry, provider, service.name);
  if (current && sameService(current, service)) return undefined;
  let hash: Hash;
  try {
    hash = await wallet.writeContract({
      address: registry,
      abi: serviceRegistryAbi,
      functionName: 'upsert',
      args: [service],
      account: wallet.account,
      chain: wallet.chain,
    });
  } catch (cause) {
    throw new UpstreamError('SERVING_REGISTER_FAILED', `ServiceRegistry.upsert failed: ${errorMessage(cause)}`, { cause, meta: { registry, name: service.name } });
  }
  const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  if (receipt.status !== 'success') {
    throw new UpstreamError('SERVING_REGISTER_FAILED', `ServiceRegistry.upsert reverted (tx ${hash})`, { meta: { tx: hash, registry } });
  }
  log.info({ provider, name: service.name, url: service.url, model: service.model, tx: hash, updated: current !== undefined }, 'service registered');
  return hash;
}

function sameService(a: ServiceEntry, b: ServiceEntry): boolean {
  return (
    a.name === b.name &&
    a.serviceType === b.serviceType &&
    a.url === b.url &&
    a.model === b.model &&
    a.inputPricePerToken === b.inputPricePerToken &&
    a.outputPricePerToken === b.outputPricePerToken &&
    a.verifiability === b.verifiability
  );
}
