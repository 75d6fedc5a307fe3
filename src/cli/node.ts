import { Option } from 'commander';
import type { Command } from 'commander';
import { createNode } from '../node/create-node.ts';
import { ROLE_NAMES, isRoleName } from '../protocol/roles.ts';
import type { RoleName } from '../protocol/roles.ts';
import { InvalidInputError } from '../protocol/errors.ts';
import { acquireDirLock } from '../shared/dir-lock.ts';
import { addNodeFlags, cliLogger, configFromFlags, printJson } from './common.ts';
import type { NodeFlags } from './common.ts';
import { runUntilSignal } from './run-until-signal.ts';
import { readManifest } from '../sdk/index.ts';
import type { Address } from 'viem';

export function registerNode(program: Command): void {
  addNodeFlags(program.command('node'))
    .description('run one role as its own node (for multi-host deployments)')
    .addOption(new Option('--role <role>', `role to run: ${ROLE_NAMES.join(', ')}`).makeOptionMandatory())
    .option('--devnet <dir|file|url>', "join this devnet (its data dir, manifest file, or the manifest's URL from another host): its chain, contracts and NodeRegistry (key: --chain-key, else its last dev account)")
    .option('--json', 'print the node endpoints as JSON once ready')
    .action(async (flags: NodeFlags & { role: string; devnet?: string; json?: boolean }) => {
      const role = parseRole(flags.role);
      const joined = flags.devnet ? await readManifest({ devnet: flags.devnet }) : undefined;
      if (joined) {
        flags.chainRpc ??= joined.chain.rpc;
        flags.chainKey ??= joined.chain.accounts.at(-1)?.privateKey;
      }
      const { config: loaded, warnings } = configFromFlags(flags);
      // One node of the role: `levity node` is the unit a host runs.
      const ao = {
        ...loaded.ao,
        gateway: loaded.ao.gateway ?? joined?.ao?.gateway,
        su: loaded.ao.su ?? joined?.ao?.su,
        cu: loaded.ao.cu ?? joined?.ao?.cu,
        indexer: loaded.ao.indexer ?? joined?.storage?.indexer,
      };
      const config = { ...loaded, storage: { ...loaded.storage, nodes: 1 }, da: { ...loaded.da, nodes: 1 }, ao };
      const log = cliLogger(config);
      for (const warning of warnings) log.warn(warning);
      if (!joined && flags.chainRpc) {
        log.warn({ rpc: flags.chainRpc }, 'no --devnet to join: this node deploys (or reuses from its data dir) a contract set of its own, a network by itself');
      }
      const lock = await acquireDirLock(config.dataDir);
      const node = createNode({ roles: [role], config, log, knownContracts: joined?.chain.contracts as Record<string, Address> | undefined });
      const service = {
        start: () => node.start(),
        stop: () => node.stop().finally(() => lock.release()),
      };
      try {
        await runUntilSignal(service, log, () => {
          const ready = { roles: [role], endpoints: node.endpoints, chain: node.chain.rpc, contracts: node.contracts };
          if (flags.json) printJson(ready);
          else for (const endpoint of node.endpoints) process.stdout.write(`${endpoint.role}  ${endpoint.url}\n`);
        });
      } catch (error) {
        await lock.release();
        throw error;
      }
    });
}

function parseRole(value: string): RoleName {
  if (!isRoleName(value)) {
    throw new InvalidInputError('CLI_UNKNOWN_ROLE', `unknown role "${value}"; expected one of ${ROLE_NAMES.join(', ')}`);
  }
  return value;
}
