/**
 * Test fixture: one provider in a process of its own, so that a test can kill -9 it mid-work.
 * Reads its settings from LEVITY_PROVIDER_CHILD (JSON), prints `{ url, address }` once serving,
 * then runs until killed. Never settles by itself: what it served is left for its successor.
 */
import { createPublicClient, createWalletClient, http } from 'viem';
import type { Address, Hex, PublicClient } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { levityChain } from '../../chain/index.ts';
import { createLogger } from '../../shared/log.ts';
import { createLlamaBackend } from '../backends/llama-backend.ts';
import { createProvider } from './provider.ts';

export type CrashChildConfig = {
  rpc: string;
  chainId: number;
  registry: Address;
  ledger: Address;
  key: Hex;
  dataDir: string;
  modelPath: string;
  inputPricePerToken: string;
  outputPricePerToken: string;
};

const config = JSON.parse(process.env.LEVITY_PROVIDER_CHILD ?? '{}') as CrashChildConfig;
const chain = levityChain(config.chainId, config.rpc);
const transport = http(config.rpc, { retryCount: 0 });
const backend = await createLlamaBackend({ modelPath: config.modelPath });
const provider = createProvider({
  dataDir: config.dataDir,
  host: '127.0.0.1',
  port: 0,
  log: createLogger({ level: process.env.LEVITY_TEST_LOG ?? 'silent', pretty: false, destination: process.stderr }),
  client: createPublicClient({ chain, transport, pollingInterval: 50 }) as PublicClient,
  wallet: createWalletClient({ chain, transport, account: privateKeyToAccount(config.key) }),
  chainId: config.chainId,
  registry: config.registry,
  ledger: config.ledger,
  backend,
  service: { name: 'chat', inputPricePerToken: BigInt(config.inputPricePerToken), outputPricePerToken: BigInt(config.outputPricePerToken) },
  settleIntervalMs: 0,
});
await provider.start();
process.stdout.write(`${JSON.stringify({ url: provider.url, address: provider.address })}\n`);
setInterval(() => undefined, 1 << 30);
