/** What the ServiceRegistry lists: every provider's services with their URLs and prices. */
import { getAddress } from 'viem';
import type { Address, PublicClient } from 'viem';
import { serviceRegistryAbi } from '../../protocol/serving/service-registry-abi.ts';
import { ledgerError } from './ledger.ts';

export type ServiceRecord = {
  provider: Address;
  name: string;
  /** "chat" for OpenAI-compatible chat services. */
  serviceType: string;
  /** Base URL; the OpenAI-compatible API is at url + "/v1". */
  url: string;
  model: string;
  /** Wei per prompt token. */
  inputPricePerToken: bigint;
  /** Wei per generated token. */
  outputPricePerToken: bigint;
  /** How responses can be checked: "signed-response". */
  verifiability: string;
  /** Unix seconds of the last register/update. */
  updatedAt: bigint;
};

export type ListServicesParameters = {
  client: PublicClient;
  registry: Address;
  /** Only this provider's services. */
  provider?: Address;
  /** Only services of this type (e.g. "chat"). */
  serviceType?: string;
};

export async function listServices(parameters: ListServicesParameters): Promise<ServiceRecord[]> {
  let list;
  try {
    list = await parameters.client.readContract({ address: parameters.registry, abi: serviceRegistryAbi, functionName: 'services' });
  } catch (error) {
    throw ledgerError(error, 'ServiceRegistry.services');
  }
  const provider = parameters.provider ? getAddress(parameters.provider) : undefined;
  return list
    .map((s) => ({
      provider: getAddress(s.provider),
      name: s.name,
      serviceType: s.serviceType,
      url: s.url.replace(/\/+$/, ''),
      model: s.model,
      inputPricePerToken: s.inputPricePerToken,
      outputPricePerToken: s.outputPricePerToken,
      verifiability: s.verifiability,
      updatedAt: s.updatedAt,
    }))
    .filter((s) => (provider === undefined || s.provider === provider) && (parameters.serviceType === undefined || s.serviceType === parameters.serviceType));
}
