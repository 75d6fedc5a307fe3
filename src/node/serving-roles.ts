import { join } from 'node:path';
import type { Address, Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { createLlamaBackend, createProvider, createProxyBackend, generateTinyModel } from '../serving/index.ts';
import type { ChatBackend, Provider } from '../serving/index.ts';
import { InvalidInputError, LevityError } from '../protocol/errors.ts';
import { ROLE_PORT_OFFSETS } from '../protocol/roles.ts';
import type { RoleName } from '../protocol/roles.ts';
import type { LevityConfig } from '../shared/config.ts';
import { rolePort } from '../shared/http.ts';
import type { Startable } from '../shared/lifecycle.ts';
import type { Logger } from '../shared/log.ts';
import type { ChainConnection } from './chain-connection.ts';

export type ServingRoleEndpoint = { key: string; role: RoleName; url: string };
export type ServingFacts = { providers: Array<{ address: Address; url: string; model: string }> };

export type ServingRolesOptions = {
  roles: readonly RoleName[];
  config: LevityConfig;
  log: Logger;
  chain: ChainConnection;
  contracts: Readonly<Record<string, Address>>;
  /** The provider's own key: it registers the service and receives the settlements. */
  providerKey: Hex;
};

/** The seed of the devnet's generated model: the same weights on every machine. */
const TINY_MODEL_SEED = 7;

/** The backend a provider serves from: an upstream API, a GGUF file, or the generated tiny model. */
async function openBackend(config: LevityConfig, dataDir: string): Promise<ChatBackend> {
  const { upstream, model } = config.serving;
  if (upstream && model) throw new InvalidInputError('CONFIG_CONFLICT', 'serving.model and serving.upstream exclude each other');
  if (upstream) return createProxyBackend({ upstream });
  const modelPath = model ?? join(dataDir, 'models', 'levity-tiny.gguf');
  if (!model) await generateTinyModel({ path: modelPath, seed: TINY_MODEL_SEED });
  return createLlamaBackend({ modelPath });
}

/** Builds the provider role: a backend, and the billing broker in front of it. */
export function servingRoles(options: ServingRolesOptions) {
  const { roles, config, log, chain, contracts } = options;
  const parts: Startable[] = [];
  const endpoints: (() => ServingRoleEndpoint)[] = [];
  const facts: ServingFacts = { providers: [] };
  if (!roles.includes('provider') || config.serving.providers === 0) return { parts, endpoints, facts };
  const registry = contracts.ServiceRegistry;
  const ledger = contracts.ServingLedger;
  if (!registry || !ledger) throw new InvalidInputError('CONFIG_MISSING', 'the provider role needs the ServiceRegistry and ServingLedger contracts');

  const dataDir = join(config.dataDir, 'provider');
  let backend: ChatBackend | undefined;
  let provider: Provider | undefined;
  parts.push({
    async start() {
      backend = await openBackend(config, dataDir);
      provider = createProvider({
        dataDir,
        host: config.host,
        port: rolePort(config.portBase, ROLE_PORT_OFFSETS.provider),
        log,
        client: chain.client,
        wallet: chain.walletFor(privateKeyToAccount(options.providerKey)),
        signingKey: options.providerKey,
        chainId: chain.chainId,
        registry,
        ledger,
        backend,
        service: {
          name: 'chat',
          inputPricePerToken: BigInt(config.serving.inputPricePerToken),
          outputPricePerToken: BigInt(config.serving.outputPricePerToken),
        },
        settleIntervalMs: config.serving.settleIntervalMs,
        defaultMaxTokens: config.serving.defaultMaxTokens,
      });
      try {
        await provider.start();
      } catch (error) {
        await backend.close();
        throw error;
      }
      facts.providers.push({ address: provider.address, url: provider.url, model: provider.model });
    },
    async stop() {
      // The provider settles on stop, so it goes first; the backend serves nothing after it.
      await provider?.stop();
      await backend?.close();
      provider = undefined;
      backend = undefined;
      facts.providers.length = 0;
    },
  });
  endpoints.push(() => {
    if (!provider) throw new LevityError('NODE_NOT_STARTED', 'the provider is not started');
    return { key: 'provider', role: 'provider', url: provider.url };
  });
  return { parts, endpoints, facts };
}
