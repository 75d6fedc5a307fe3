import { getAddress, keccak256 } from 'viem';
import type { Account, Address, Chain, Hex, PublicClient, Transport, WalletClient } from 'viem';
import { LevityError } from '../protocol/errors.ts';
import { readJsonFile, writeJsonFile } from '../shared/json-file.ts';
import type { CompiledContracts } from './compile-contracts.ts';

/** One contract to deploy; `args` may use the addresses of contracts deployed before it. */
export type DeployStep = {
  name: string;
  args?: (deployed: Readonly<Record<string, Address>>) => readonly unknown[];
};

export type DeploymentRecord = { address: Address; creationCodeHash: Hex; txHash?: Hex };
export type Deployments = { chainId: number; contracts: Record<string, DeploymentRecord> };

export type EnsureDeployedOptions = {
  client: PublicClient;
  wallet: WalletClient<Transport, Chain | undefined, Account>;
  compiled: CompiledContracts;
  plan: readonly DeployStep[];
  /** Where this data dir remembers what it deployed on which chain. */
  recordFile: string;
  /** Addresses from an existing manifest, reused when the code there is ours. */
  known?: Readonly<Record<string, Address>>;
  log?: (fields: Record<string, unknown>, msg: string) => void;
};

/**
 * Makes sure every contract of the plan is live on the chain and returns their addresses.
 * A contract deployed earlier (recorded here, or named in an existing manifest) is reused
 * when its code is still there and was built from the same sources; anything else is
 * deployed anew, so a contract whose source changed gets a fresh deployment.
 */
export async function ensureDeployed(options: EnsureDeployedOptions): Promise<Record<string, Address>> {
  const { client, wallet, compiled, plan } = options;
  const chainId = await client.getChainId();
  // Missing or unreadable records only cost a redeploy: the chain is the source of truth.
  const stored = (await readJsonFile(options.recordFile).catch(() => undefined)) as Deployments | undefined;
  const records: Deployments = stored?.chainId === chainId ? stored : { chainId, contracts: {} };
  const addresses: Record<string, Address> = {};

  for (const step of plan) {
    const artifact = compiled.contracts[step.name];
    if (!artifact) throw new LevityError('CHAIN_UNKNOWN_CONTRACT', `no compiled contract named ${step.name}`);
    const creationCodeHash = keccak256(artifact.bytecode);
    const record = records.contracts[step.name];
    if (record?.creationCodeHash === creationCodeHash && (await hasCode(client, record.address))) {
      addresses[step.name] = record.address;
      continue;
    }
    const known = options.known?.[step.name];
    if (known && !record && (await client.getCode({ address: known })) === artifact.deployedBytecode) {
      addresses[step.name] = known;
      records.contracts[step.name] = { address: known, creationCodeHash };
      continue;
    }
    const txHash = await wallet.deployContract({
      abi: artifact.abi,
      bytecode: artifact.bytecode,
      args: step.args?.(addresses) ?? [],
      chain: wallet.chain,
    });
    const receipt = await client.waitForTransactionReceipt({ hash: txHash, pollingInterval: 50 });
    if (receipt.status !== 'success' || !receipt.contractAddress) {
      throw new LevityError('CHAIN_DEPLOY_FAILED', `deploying ${step.name} failed`, { meta: { txHash } });
    }
    const address = getAddress(receipt.contractAddress);
    addresses[step.name] = address;
    records.contracts[step.name] = { address, creationCodeHash, txHash };
    await writeJsonFile(options.recordFile, records);
    options.log?.({ contract: step.name, address }, 'contract deployed');
  }
  await writeJsonFile(options.recordFile, records);
  return addresses;
}

async function hasCode(client: PublicClient, address: Address): Promise<boolean> {
  const code = await client.getCode({ address });
  return code !== undefined && code !== '0x';
}
