import { decodeEventLog } from 'viem';
import type { Abi, Account, Address, Chain, PublicClient, Transport, WalletClient } from 'viem';
import { readJsonFile, writeJsonFile } from '../shared/json-file.ts';

/** What NodeRegistry.getNode and nodesByRole return. */
export type RegisteredNode = {
  id: bigint;
  operator: Address;
  active: boolean;
  registeredAt: bigint;
  updatedAt: bigint;
  role: string;
  url: string;
};

/** A node this process runs and wants listed: `key` tells two nodes of one role apart. */
export type Advertisement = { key: string; role: string; url: string };

export type AdvertiseOptions = {
  client: PublicClient;
  wallet: WalletClient<Transport, Chain | undefined, Account>;
  registry: Address;
  abi: Abi;
  nodes: readonly Advertisement[];
  /** Remembers which registry id each key got, so a restart updates instead of re-registering. */
  stateFile: string;
};

type State = { registry: Address; ids: Record<string, string> };

/**
 * Lists this process's nodes in NodeRegistry: registers new ones, updates a URL that changed
 * (a new port base), and leaves unchanged ones alone, so restarts cost no transactions.
 */
export async function advertiseNodes(options: AdvertiseOptions): Promise<Record<string, bigint>> {
  const { client, wallet, registry, abi } = options;
  const saved = (await readJsonFile(options.stateFile).catch(() => undefined)) as State | undefined;
  const state: State = saved?.registry === registry ? saved : { registry, ids: {} };
  const ids: Record<string, bigint> = {};

  for (const node of options.nodes) {
    const knownId = state.ids[node.key];
    const current = knownId === undefined ? undefined : await readNode(client, registry, abi, BigInt(knownId));
    const ours = current?.active && current.operator.toLowerCase() === wallet.account.address.toLowerCase();
    if (current && ours && current.role === node.role) {
      if (current.url !== node.url) {
        await send(client, wallet, { address: registry, abi, functionName: 'updateUrl', args: [current.id, node.url] });
      }
      ids[node.key] = current.id;
      continue;
    }
    const receipt = await send(client, wallet, { address: registry, abi, functionName: 'register', args: [node.role, node.url] });
    const id = registeredId(abi, receipt.logs);
    ids[node.key] = id;
    state.ids[node.key] = id.toString();
    await writeJsonFile(options.stateFile, state);
  }
  return ids;
}

export async function nodesByRole(client: PublicClient, registry: Address, abi: Abi, role: string): Promise<RegisteredNode[]> {
  return (await client.readContract({ address: registry, abi, functionName: 'nodesByRole', args: [role] })) as RegisteredNode[];
}

async function readNode(client: PublicClient, registry: Address, abi: Abi, id: bigint): Promise<RegisteredNode | undefined> {
  try {
    return (await client.readContract({ address: registry, abi, functionName: 'getNode', args: [id] })) as RegisteredNode;
  } catch {
    return undefined; // unknown id, e.g. the chain was reset under this data dir
  }
}

type Write = { address: Address; abi: Abi; functionName: string; args: readonly unknown[] };

async function send(client: PublicClient, wallet: AdvertiseOptions['wallet'], write: Write) {
  const hash = await wallet.writeContract({ ...write, chain: wallet.chain, account: wallet.account });
  const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  if (receipt.status !== 'success') throw new Error(`NodeRegistry.${write.functionName} reverted (tx ${hash})`);
  return receipt;
}

function registeredId(abi: Abi, logs: readonly { data: `0x${string}`; topics: readonly `0x${string}`[] }[]): bigint {
  for (const log of logs) {
    try {
      const event = decodeEventLog({ abi, data: log.data, topics: log.topics as [`0x${string}`, ...`0x${string}`[]] });
      if (event.eventName === 'NodeRegistered') return (event.args as unknown as { id: bigint }).id;
    } catch {
      // another contract's log
    }
  }
  throw new Error('NodeRegistry.register emitted no NodeRegistered event');
}
