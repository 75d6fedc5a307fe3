import { join } from 'node:path';
import type { Address } from 'viem';
import { advertiseNodes, compileContracts, CONTRACT_PLAN, createEmbeddedChain, ensureDeployed } from '../chain/index.ts';
import type { CompiledContracts, EmbeddedChain } from '../chain/index.ts';
import { InvalidInputError, LevityError } from '../protocol/errors.ts';
import type { RoleName } from '../protocol/roles.ts';
import type { LevityConfig } from '../shared/config.ts';
import type { Logger } from '../shared/log.ts';
import type { Startable } from '../shared/lifecycle.ts';
import { PACKAGE_ROOT } from '../shared/package-root.ts';
import { embeddedConnection, externalConnection } from './chain-connection.ts';
import type { ChainConnection } from './chain-connection.ts';
import { rolePort } from '../shared/http.ts';
import { ROLE_PORT_OFFSETS } from '../protocol/roles.ts';

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
};

export const CONTRACTS_DIR = join(PACKAGE_ROOT, 'contracts');
export const SOLC_CACHE_DIR = join(PACKAGE_ROOT, 'node_modules', '.cache', 'levity', 'solc');

/**
 * The composition root: builds the roles asked for, connects them to the chain (embedded or
 * external), makes sure the contracts are deployed, and lists the node in NodeRegistry.
 */
export function createNode(options: CreateNodeOptions): LevityNode {
  const { config, log } = options;
  const embedsChain = options.roles.includes('chain');
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
  const unsupported = options.roles.filter((role) => role !== 'chain');
  if (unsupported.length > 0) {
    throw new InvalidInputError('NODE_ROLE_UNAVAILABLE', `role ${unsupported.join(', ')} is not available yet`, {
      meta: { roles: unsupported },
    });
  }

  let embedded: EmbeddedChain | undefined;
  let state: { chain: ChainConnection; contracts: Record<string, Address>; endpoints: NodeEndpoint[] } | undefined;
  const need = () => {
    if (!state) throw new LevityError('NODE_NOT_STARTED', 'the node is not started');
    return state;
  };

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

    async start() {
      const compiled: Promise<CompiledContracts> = compileContracts({
        sourcesDir: CONTRACTS_DIR,
        cacheDir: SOLC_CACHE_DIR,
        log: (message) => log.warn({ role: 'chain' }, message),
      });
      const endpoints: NodeEndpoint[] = [];
      let chain: ChainConnection;
      if (embedsChain) {
        embedded = createEmbeddedChain({
          dataDir: join(config.dataDir, 'chain'),
          host: config.host,
          port: rolePort(config.portBase, ROLE_PORT_OFFSETS.chain),
          genesis: config.chain,
          log,
        });
        await embedded.start();
        chain = embeddedConnection(embedded.provider, embedded.url, embedded.genesis.chainId, embedded.accounts);
        endpoints.push({ key: 'chain', role: 'chain', url: embedded.url });
      } else {
        chain = await externalConnection(config.chain.rpc!, config.chain.key as `0x${string}`);
      }
      try {
        const contracts = await ensureDeployed({
          client: chain.client,
          wallet: chain.wallet,
          compiled: await compiled,
          plan: CONTRACT_PLAN,
          recordFile: join(config.dataDir, 'deployments.json'),
          known: options.knownContracts,
          log: (fields, message) => log.info({ role: 'chain', ...fields }, message),
        });
        const registry = contracts.NodeRegistry;
        if (registry && endpoints.length > 0) {
          await advertiseNodes({
            client: chain.client,
            wallet: chain.wallet,
            registry,
            abi: (await compiled).contracts.NodeRegistry!.abi,
            nodes: endpoints,
            stateFile: join(config.dataDir, 'registry.json'),
          });
        }
        state = { chain, contracts, endpoints };
      } catch (error) {
        await embedded?.stop();
        throw error;
      }
    },

    async stop() {
      state = undefined;
      await embedded?.stop();
    },
  };
}
