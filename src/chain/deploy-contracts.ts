import { encodeDeployData, getAddress, keccak256 } from 'viem';
import type { Account, Address, Chain, Hex, PublicClient, Transport, WalletClient } from 'viem';
import { LevityError } from '../protocol/errors.ts';
import { readJsonFile, writeJsonFile } from '../shared/json-file.ts';
import type { CompiledContracts, ContractArtifact } from './compile-contracts.ts';

export type DeployContext = {
  addresses: Readonly<Record<string, Address>>;
  client: PublicClient;
  wallet: WalletClient<Transport, Chain | undefined, Account>;
  compiled: CompiledContracts;
};

/**
 * One contract to deploy. `args` may use the addresses of contracts deployed before it;
 * `afterDeploy` wires it up (for example telling another contract about it) and runs only
 * when this step deploys afresh.
 */
export type DeployStep = {
  name: string;
  args?: (deployed: Readonly<Record<string, Address>>) => readonly unknown[];
  afterDeploy?: (context: DeployContext) => Promise<void>;
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
    const args = step.args?.(addresses) ?? [];
    // Constructor arguments are part of the identity: a dependency redeployed elsewhere means
    // this contract must be redeployed too, or it would keep pointing at the old one.
    const creationCodeHash = keccak256(encodeDeployData({ abi: artifact.abi, bytecode: artifact.bytecode, args }));
    const record = records.contracts[step.name];
    if (record?.creationCodeHash === creationCodeHash && (await hasCode(client, record.address))) {
      addresses[step.name] = record.address;
      continue;
    }
    const known = options.known?.[step.name];
    if (known && !record && sameRuntimeCode(artifact, await client.getCode({ address: known }))) {
      addresses[step.name] = known;
      records.contracts[step.name] = { address: known, creationCodeHash };
      continue;
    }
    const txHash = await wallet.deployContract({
      abi: artifact.abi,
      bytecode: artifact.bytecode,
      args,
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
    await step.afterDeploy?.({ addresses, client, wallet, compiled });
    options.log?.({ contract: step.name, address }, 'contract deployed');
  }
  await writeJsonFile(options.recordFile, records);
  return addresses;
}

async function hasCode(client: PublicClient, address: Address): Promise<boolean> {
  const code = await client.getCode({ address });
  return code !== undefined && code !== '0x';
}

/** Whether code on chain is this artifact's runtime code, whatever its immutables hold. */
export function sameRuntimeCode(artifact: ContractArtifact, code: Hex | undefined): boolean {
  if (!code || code.length !== artifact.deployedBytecode.length) return false;
  const mask = (hex: Hex) => {
    const chars = hex.slice(2).split('');
    for (const { start, length } of artifact.immutableRanges) chars.fill('0', start * 2, (start + length) * 2);
    return chars.join('').toLowerCase();
  };
  return mask(code) === mask(artifact.deployedBytecode);
}

