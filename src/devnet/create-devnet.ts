import { join } from 'node:path';
import type { Address } from 'viem';
import { createNode } from '../node/create-node.ts';
import type { LevityNode } from '../node/create-node.ts';
import { LevityError } from '../protocol/errors.ts';
import { MANIFEST_FILE, manifestSchema } from '../protocol/manifest.ts';
import type { Manifest } from '../protocol/manifest.ts';
import type { RoleName } from '../protocol/roles.ts';
import type { LevityConfig } from '../shared/config.ts';
import { acquireDirLock } from '../shared/dir-lock.ts';
import type { DirLock } from '../shared/dir-lock.ts';
import { readJsonFile, writeJsonFile } from '../shared/json-file.ts';
import type { Startable } from '../shared/lifecycle.ts';
import type { Logger } from '../shared/log.ts';

export type CreateDevnetOptions = { config: LevityConfig; log: Logger };

export type Devnet = Startable & {
  readonly manifest: Manifest;
  readonly manifestPath: string;
};

/** The roles `levity up` runs in one process; subsystems add theirs as they land. */
export function devnetRoles(config: LevityConfig): RoleName[] {
  const services: RoleName[] = ['storage-node', 'indexer', 'gateway', 'su', 'cu', 'mu', 'da-node', 'da-aggregator', 'provider'];
  return config.chain.rpc ? services : ['chain', ...services];
}

/**
 * `levity up`: every role in one process on one data dir. Takes the data dir's lock first,
 * writes the manifest once everything is ready, and leaves it in place on exit.
 */
export function createDevnet(options: CreateDevnetOptions): Devnet {
  const { config, log } = options;
  const manifestPath = join(config.dataDir, MANIFEST_FILE);
  let lock: DirLock | undefined;
  let node: LevityNode | undefined;
  let manifest: Manifest | undefined;

  return {
    manifestPath,
    get manifest() {
      if (!manifest) throw new LevityError('DEVNET_NOT_STARTED', 'the devnet is not started');
      return manifest;
    },

    async start() {
      lock = await acquireDirLock(config.dataDir);
      try {
        const previous = await previousContracts(manifestPath);
        node = createNode({ roles: devnetRoles(config), config, log, knownContracts: previous });
        await node.start();
        manifest = {
          version: 1,
          dataDir: config.dataDir,
          chain: {
            rpc: node.chain.rpc,
            chainId: node.chain.chainId,
            accounts: node.chain.accounts,
            contracts: { ...node.contracts },
          },
          ...storageSection(node),
          ...aoSection(node),
          ...daSection(node),
          ...servingSection(node),
        };
        await writeJsonFile(manifestPath, manifest);
      } catch (error) {
        await node?.stop();
        await lock.release();
        throw error;
      }
    },

    async stop() {
      try {
        await node?.stop();
      } finally {
        await lock?.release();
        lock = undefined;
        node = undefined;
      }
    },
  };
}

/** Contract addresses of an earlier run's manifest, if it is readable. */
async function previousContracts(path: string): Promise<Record<string, Address> | undefined> {
  const parsed = manifestSchema.safeParse(await readJsonFile(path).catch(() => undefined));
  return parsed.success ? (parsed.data.chain.contracts as Record<string, Address>) : undefined;
}

function storageSection(node: LevityNode): Pick<Manifest, 'storage'> {
  const indexer = node.endpoints.find((e) => e.role === 'indexer');
  if (!indexer) return {};
  return { storage: { indexer: indexer.url, nodes: node.endpoints.filter((e) => e.role === 'storage-node').map((e) => e.url) } };
}

function aoSection(node: LevityNode): Pick<Manifest, 'ao'> {
  const url = (role: string) => node.endpoints.find((e) => e.role === role)?.url;
  const [mu, su, cu, gateway] = [url('mu'), url('su'), url('cu'), url('gateway')];
  const { scheduler, authority, modules } = node.ao;
  if (!mu || !su || !cu || !gateway || !scheduler || !authority) return {};
  return { ao: { mu, su, cu, gateway, graphql: `${gateway}/graphql`, modules, scheduler, authority } };
}

function daSection(node: LevityNode): Pick<Manifest, 'da'> {
  const aggregator = node.endpoints.find((e) => e.role === 'da-aggregator');
  if (!aggregator) return {};
  return { da: { aggregator: aggregator.url, nodes: node.endpoints.filter((e) => e.role === 'da-node').map((e) => e.url) } };
}

function servingSection(node: LevityNode): Pick<Manifest, 'serving'> {
  if (node.serving.providers.length === 0) return {};
  return { serving: { providers: node.serving.providers.map((p) => ({ ...p })) } };
}
