import { join } from 'node:path';
import type { Address, Hex } from 'viem';
import { advertiseNodes, compileContracts, CONTRACT_PLAN, CONTRACTS_DIR, SOLC_CACHE_DIR, createEmbeddedChain, ensureDeployed, nodesByRole } from '../chain/index.ts';
import type { CompiledContracts, EmbeddedChain } from '../chain/index.ts';
import { InvalidInputError, LevityError } from '../protocol/errors.ts';
import { ROLE_PORT_OFFSETS } from '../protocol/roles.ts';
import type { RoleName } from '../protocol/roles.ts';
import { createIndexer, createStorageNode } from '../storage/index.ts';
import type { LevityConfig } from '../shared/config.ts';
import { rolePort } from '../shared/http.ts';
import { startableGroup } from '../shared/lifecycle.ts';
import type { Startable } from '../shared/lifecycle.ts';
import type { Logger } from '../shared/log.ts';
import { aoRoles } from './ao-roles.ts';
import type { AoFacts } from './ao-roles.ts';
import { daRoles } from './da-roles.ts';
import { servingRoles } from './serving-roles.ts';
import type { ServingFacts } from './serving-roles.ts';
import { embeddedConnection, externalConnection } from './chain-connection.ts';
import type { ChainConnection } from './chain-connection.ts';

/** One listening endpoint of a role; `key` tells apart several nodes of one role. */
export type NodeEndpoint = { key: string; role: RoleName; url: string };

export type CreateNodeOptions = {
  roles: readonly RoleName[];
  config: LevityConfig;
  log: Logger;
  /** Contract addresses from an earlier manifest, reused when the code there is ours. */
  knownContracts?: Readonly<Record<string, Address>>;
};

export type LevityNode = Startable & {
  readonly chain: ChainConnection;
  readonly contracts: Readonly<Record<string, Address>>;
  readonly endpoints: readonly NodeEndpoint[];
  /** The embedded chain, when this node runs one. */
  readonly embeddedChain: EmbeddedChain | undefined;
  /** What the AO roles published: module ids, the SU and MU addresses. */
  readonly ao: AoFacts;
  /** The providers this node runs: their addresses, URLs and models. */
  readonly serving: ServingFacts;
};

const AVAILABLE_ROLES: readonly RoleName[] = ['chain', 'storage-node', 'indexer', 'gateway', 'su', 'cu', 'mu', 'da-node', 'da-aggregator', 'provider'];

function checkOptions({ roles, config }: CreateNodeOptions): void {
  const embedsChain = roles.includes('chain');
  if (embedsChain && config.chain.rpc) {
    throw new InvalidInputError('CONFIG_CONFLICT', 'config: the chain role and chain.rpc exclude each other', {
      details: 'run the embedded chain, or point at an external one with --chain-rpc, not both',
    });
  }
  if (!embedsChain && !config.chain.rpc) {
    throw new InvalidInputError('CONFIG_MISSING', 'config: chain.rpc is required when this node runs no chain role', {
      details: 'pass --chain-rpc URL (and --chain-key HEX)',
    });
  }
  if (config.chain.rpc && !config.chain.key) {
    throw new InvalidInputError('CONFIG_MISSING', 'config: chain.key is required with chain.rpc', {
      details: 'pass --chain-key with the private key that pays for deployments and registrations',
    });
  }
  const unavailable = roles.filter((role) => !AVAILABLE_ROLES.includes(role));
  if (unavailable.length > 0) {
    throw new InvalidInputError('NODE_ROLE_UNAVAILABLE', `role ${unavailable.join(', ')} is not available yet`, {
      meta: { roles: unavailable },
    });
  }
}

/**
 * The composition root: builds the roles asked for, connects them to the chain (embedded or
 * external), makes sure the contracts are deployed, and lists the node in NodeRegistry.
 */
export function createNode(options: CreateNodeOptions): LevityNode {
  checkOptions(options);
  const { config, log, roles } = options;
  const port = (role: RoleName, extra = 0) => rolePort(config.portBase, ROLE_PORT_OFFSETS[role] + extra);
  let embedded: EmbeddedChain | undefined;
  // Everything started, in order, so a stop (or a failed start) undoes it in reverse.
  let started: Startable[] = [];
  const run = async (part: Startable) => {
    await part.start();
    started.push(part);
  };
  const stopAll = async () => {
    for (const part of started.splice(0).reverse()) await part.stop();
  };
  let aoFacts: AoFacts = { modules: {} };
  let servingFacts: ServingFacts = { providers: [] };
  let state: { chain: ChainConnection; contracts: Record<string, Address>; endpoints: NodeEndpoint[] } | undefined;
  const need = () => {
    if (!state) throw new LevityError('NODE_NOT_STARTED', 'the node is not started');
    return state;
  };

  async function connectChain(): Promise<ChainConnection> {
    if (!roles.includes('chain')) return externalConnection(config.chain.rpc!, config.chain.key as `0x${string}`);
    embedded = createEmbeddedChain({
      dataDir: join(config.dataDir, 'chain'),
      host: config.host,
      port: port('chain'),
      genesis: config.chain,
      log,
    });
    await run(embedded);
    return embeddedConnection(embedded.provider, embedded.url, embedded.genesis.chainId, embedded.accounts);
  }

  /** Starts the roles that need a chain with contracts; returns their endpoints. */
  async function startServices(chain: ChainConnection, contracts: Record<string, Address>, compiled: CompiledContracts) {
    const services = startableGroup([]);
    const endpoints: (() => NodeEndpoint)[] = [];
    const storageNodes = roles.includes('storage-node') ? Array.from({ length: config.storage.nodes }, (_, i) => i) : [];
    const storage = storageNodes.map((i) => {
      const node = createStorageNode({
        dataDir: join(config.dataDir, `storage-node-${i}`),
        host: config.host,
        port: port('storage-node', i),
        shard: { shardId: 0, numShard: 1 },
        client: chain.client,
        flow: contracts.Flow!,
        log,
        syncPollMs: config.storage.syncPollMs,
      });
      services.add(node);
      endpoints.push(() => ({ key: `storage-node#${i}`, role: 'storage-node', url: node.url }));
      return node;
    });
    let indexerUrl: (() => string) | undefined;
    if (roles.includes('indexer')) {
      const registryAbi = compiled.contracts.NodeRegistry!.abi;
      const indexer = createIndexer({
        host: config.host,
        port: port('indexer'),
        log,
        // Local nodes first, then any other host's nodes listed on chain.
        nodeUrls: async () => [
          ...storage.map((node) => node.url),
          ...(await nodesByRole(chain.client, contracts.NodeRegistry!, registryAbi, 'storage-node').catch(() => [])).map((n) => n.url),
        ],
      });
      services.add(indexer);
      indexerUrl = () => indexer.url;
      endpoints.push(() => ({ key: 'indexer', role: 'indexer', url: indexer.url }));
    }
    const ao = aoRoles({
      roles,
      config,
      log,
      chain,
      indexerUrl: () => indexerUrl?.(),
      // The last dev account pays for the gateway's storage, away from the accounts users and tests sign with.
      storageKey: chain.accounts[chain.accounts.length - 1]!.privateKey as Hex,
    });
    for (const part of ao.parts) services.add(part);
    endpoints.push(...ao.endpoints);
    aoFacts = ao.facts;
    const da = daRoles({
      roles,
      config,
      log,
      chain,
      contract: contracts.DataAvailability,
      // The second-to-last dev account signs certificates (the last pays for the gateway's storage).
      aggregatorKey: chain.accounts[Math.max(0, chain.accounts.length - 2)]!.privateKey as Hex,
    });
    for (const part of da.parts) services.add(part);
    endpoints.push(...da.endpoints);
    const serving = servingRoles({
      roles,
      config,
      log,
      chain,
      contracts,
      // The third-to-last dev account is the devnet provider; an external chain's operator key serves there.
      providerKey: chain.accounts[Math.max(0, chain.accounts.length - 3)]!.privateKey as Hex,
    });
    for (const part of serving.parts) services.add(part);
    endpoints.push(...serving.endpoints);
    servingFacts = serving.facts;
    await run(services);
    return endpoints.map((endpoint) => endpoint());
  }

  return {
    get chain() {
      return need().chain;
    },
    get contracts() {
      return need().contracts;
    },
    get endpoints() {
      return need().endpoints;
    },
    get embeddedChain() {
      return embedded;
    },
    get ao() {
      return aoFacts;
    },
    get serving() {
      return servingFacts;
    },

    async start() {
      started = [];
      const compiling = compileContracts({
        sourcesDir: CONTRACTS_DIR,
        cacheDir: SOLC_CACHE_DIR,
        log: (message) => log.warn({ role: 'chain' }, message),
      });
      try {
        const chain = await connectChain();
        const compiled = await compiling;
        const contracts = await ensureDeployed({
          client: chain.client,
          wallet: chain.wallet,
          compiled,
          plan: CONTRACT_PLAN,
          recordFile: join(config.dataDir, 'deployments.json'),
          known: options.knownContracts,
          log: (fields, message) => log.info({ role: 'chain', ...fields }, message),
        });
        const endpoints: NodeEndpoint[] = embedded ? [{ key: 'chain', role: 'chain', url: embedded.url }] : [];
        endpoints.push(...(await startServices(chain, contracts, compiled)));
        if (endpoints.length > 0) {
          await advertiseNodes({
            client: chain.client,
            wallet: chain.wallet,
            registry: contracts.NodeRegistry!,
            abi: compiled.contracts.NodeRegistry!.abi,
            nodes: endpoints,
            stateFile: join(config.dataDir, 'registry.json'),
          });
        }
        state = { chain, contracts, endpoints };
      } catch (error) {
        await stopAll().catch((err: unknown) => log.warn({ err }, 'cleanup after a failed start failed'));
        throw error;
      }
    },

    async stop() {
      state = undefined;
      await stopAll();
    },
  };
}
