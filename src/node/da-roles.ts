import { join } from 'node:path';
import { parseEther } from 'viem';
import type { Address, Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { createDaAggregator, createDaNode } from '../da/index.ts';
import { InvalidInputError } from '../protocol/errors.ts';
import { ROLE_PORT_OFFSETS } from '../protocol/roles.ts';
import type { RoleName } from '../protocol/roles.ts';
import type { LevityConfig } from '../shared/config.ts';
import { rolePort } from '../shared/http.ts';
import type { Startable } from '../shared/lifecycle.ts';
import type { Logger } from '../shared/log.ts';
import type { ChainConnection } from './chain-connection.ts';

export type DaRoleEndpoint = { key: string; role: RoleName; url: string };

export type DaRolesOptions = {
  roles: readonly RoleName[];
  config: LevityConfig;
  log: Logger;
  chain: ChainConnection;
  contract: Address | undefined;
  /** Who signs certificates: a key of its own keeps its nonces apart from the operator's. */
  aggregatorKey: Hex;
};

/**
 * Builds the DA roles this node runs: `da.nodes` DA nodes (each with its own key, stake and
 * data dir, registered in start order) and the aggregator that disperses to them.
 */
export function daRoles(options: DaRolesOptions) {
  const { roles, config, log, chain } = options;
  const parts: Startable[] = [];
  const endpoints: (() => DaRoleEndpoint)[] = [];
  const wantsNodes = roles.includes('da-node') && config.da.nodes > 0;
  const wantsAggregator = roles.includes('da-aggregator');
  if (!wantsNodes && !wantsAggregator) return { parts, endpoints };
  const contract = options.contract;
  if (!contract) throw new InvalidInputError('CONFIG_MISSING', 'the DA roles need the DataAvailability contract, and none is deployed');

  // DA nodes register from their own keys; the operator pays their stake, one transfer at a time.
  let funding: Promise<unknown> = Promise.resolve();
  const fund = (address: Address, minimumWei: bigint) => {
    const transfer = async () => {
      const balance = await chain.client.getBalance({ address });
      if (balance >= minimumWei) return;
      const hash = await chain.wallet.sendTransaction({ to: address, value: minimumWei - balance });
      await chain.client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    };
    const done = funding.then(transfer, transfer);
    funding = done.catch(() => undefined);
    return done;
  };

  if (wantsNodes) {
    for (let i = 0; i < config.da.nodes; i++) {
      const node = createDaNode({
        dataDir: join(config.dataDir, `da-node-${i}`),
        host: config.host,
        port: rolePort(config.portBase, ROLE_PORT_OFFSETS['da-node'] + i),
        log,
        client: chain.client,
        chainId: chain.chainId,
        contract,
        walletFor: (account) => chain.walletFor(account),
        stakeWei: parseEther(String(config.da.stakeEth)),
        fund,
      });
      parts.push(node);
      endpoints.push(() => ({ key: `da-node#${i}`, role: 'da-node', url: node.url }));
    }
  }
  if (wantsAggregator) {
    const aggregator = createDaAggregator({
      dataDir: join(config.dataDir, 'da-aggregator'),
      host: config.host,
      port: rolePort(config.portBase, ROLE_PORT_OFFSETS['da-aggregator']),
      log,
      client: chain.client,
      wallet: chain.walletFor(privateKeyToAccount(options.aggregatorKey)),
      chainId: chain.chainId,
      contract,
      maxPayloadBytes: config.da.maxPayloadBytes,
      encoderThreads: config.da.encoderThreads,
    });
    parts.push(aggregator);
    endpoints.push(() => ({ key: 'da-aggregator', role: 'da-aggregator', url: aggregator.url }));
  }
  return { parts, endpoints };
}
