import { join } from 'node:path';
import type { Hex } from 'viem';
import { createCu, createSu } from '../ao/index.ts';
import { createMu } from '../ao/mu/index.ts';
import { publishBuiltinModule } from '../ao/builtin-module.ts';
import { createGateway, evmChainBlocks, levityBundleStorage } from '../gateway/index.ts';
import { InvalidInputError } from '../protocol/errors.ts';
import { ROLE_PORT_OFFSETS } from '../protocol/roles.ts';
import type { RoleName } from '../protocol/roles.ts';
import type { LevityConfig } from '../shared/config.ts';
import { rolePort } from '../shared/http.ts';
import type { Startable } from '../shared/lifecycle.ts';
import type { Logger } from '../shared/log.ts';
import type { ChainConnection } from './chain-connection.ts';

export type AoFacts = { modules: Record<string, string>; scheduler?: string; authority?: string };

export type AoRoleEndpoint = { key: string; role: RoleName; url: string };

export type AoRolesOptions = {
  roles: readonly RoleName[];
  config: LevityConfig;
  log: Logger;
  chain: ChainConnection;
  /** The storage indexer the gateway stores its bundles through. */
  indexerUrl: () => string | undefined;
  /** Who pays for the gateway's storage submissions. */
  storageKey: Hex;
};

/** Polls the chain head at most once a second: every item and slot is stamped with it. */
function cachedHead(chain: ChainConnection) {
  let cached: { at: number; value: Promise<{ height: number; timestamp: number; id: string }> } | undefined;
  return () => {
    if (!cached || Date.now() - cached.at > 1000) {
      const value = chain.client.getBlock({ blockTag: 'latest' }).then((block) => ({
        height: Number(block.number),
        timestamp: Number(block.timestamp),
        id: block.hash,
      }));
      cached = { at: Date.now(), value };
      value.catch(() => {
        cached = undefined;
      });
    }
    return cached.value;
  };
}

/** A role built only when started, so it can be given the URLs of the roles started before it. */
function deferred<T extends Startable>(build: () => T, afterStart?: (node: T) => Promise<void> | void) {
  let node: T | undefined;
  return {
    get node(): T {
      if (!node) throw new Error('role not started');
      return node;
    },
    async start() {
      const built = build();
      await built.start();
      node = built;
      await afterStart?.(built);
    },
    async stop() {
      const current = node;
      node = undefined;
      await current?.stop();
    },
  };
}

/**
 * Builds the AO roles this node runs (gateway, SU, CU, MU), in dependency order; each finds
 * the ones before it locally, or through the URLs in the config when they run elsewhere.
 */
export function aoRoles(options: AoRolesOptions) {
  const { roles, config, log, chain } = options;
  const port = (role: RoleName) => rolePort(config.portBase, ROLE_PORT_OFFSETS[role]);
  const dir = (role: string) => join(config.dataDir, role);
  const head = cachedHead(chain);
  const parts: Startable[] = [];
  const endpoints: (() => AoRoleEndpoint)[] = [];
  const facts: AoFacts = { modules: {} };
  const local: Partial<Record<'gateway' | 'su' | 'cu', () => string>> = {};

  const need = (role: 'gateway' | 'su' | 'cu', by: string): string => {
    const url = local[role]?.() ?? config.ao[role];
    if (url) return url;
    throw new InvalidInputError('CONFIG_MISSING', `the ${by} role needs a ${role}: run it here or set ao.${role}`, {
      details: `pass --ao-${role} URL, or add the ${role} role`,
    });
  };
  const add = (role: RoleName, part: Startable & { readonly node: { url: string } }) => {
    parts.push(part);
    endpoints.push(() => ({ key: role, role, url: part.node.url }));
    if (role === 'gateway' || role === 'su' || role === 'cu') local[role] = () => part.node.url;
  };

  if (roles.includes('gateway')) {
    const gateway = deferred(
      () => {
        const indexer = options.indexerUrl() ?? config.ao.indexer;
        if (!indexer) {
          throw new InvalidInputError('CONFIG_MISSING', 'the gateway needs a storage indexer to keep its bytes', {
            details: 'run the indexer role here, or set ao.indexer',
          });
        }
        const storage = levityBundleStorage({ indexer, rpc: chain.rpc, privateKey: options.storageKey });
        const chainBlocks = evmChainBlocks(chain.client);
        return createGateway({ dataDir: dir('gateway'), host: config.host, port: port('gateway'), log, blockInfo: head, chainBlocks, storage });
      },
      async (node) => {
        facts.modules.lua = await publishBuiltinModule({ gatewayUrl: node.url, walletFile: join(dir('gateway'), 'publisher-wallet.json') });
      },
    );
    add('gateway', gateway);
  }
  if (roles.includes('su')) {
    const su = deferred(
      () =>
        createSu({
          dataDir: dir('su'),
          host: config.host,
          port: port('su'),
          log,
          gatewayUrl: need('gateway', 'su'),
          blockHeight: async () => (await head()).height,
        }),
      (node) => {
        facts.scheduler = node.address;
      },
    );
    add('su', su);
  }
  if (roles.includes('cu')) {
    const cu = deferred(() =>
      createCu({
        dataDir: dir('cu'),
        host: config.host,
        port: port('cu'),
        log,
        suUrl: need('su', 'cu'),
        gatewayUrl: need('gateway', 'cu'),
        maxLiveProcesses: config.ao.maxLiveProcesses,
        resultTimeoutMs: config.ao.resultTimeoutMs,
      }),
    );
    add('cu', cu);
  }
  if (roles.includes('mu')) {
    const mu = deferred(
      () =>
        createMu({
          dataDir: dir('mu'),
          host: config.host,
          port: port('mu'),
          log,
          suUrl: need('su', 'mu'),
          cuUrl: need('cu', 'mu'),
          gatewayUrl: need('gateway', 'mu'),
          cronPollMs: config.ao.cronPollMs,
        }),
      (node) => {
        facts.authority = node.address;
      },
    );
    add('mu', mu);
  }
  return { parts, endpoints, facts };
}
