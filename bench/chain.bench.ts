/**
 * The embedded chain: what the write journal costs, how fast clients can drive the chain over
 * HTTP, how long a restart takes to replay history, and how soon `levity up` is ready.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWalletClient, http } from 'viem';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { createEmbeddedChain, levityChain } from '../src/chain/index.ts';
import { createLogger } from '../src/shared/log.ts';
import { startDevnet } from '../test/e2e/devnet-process.ts';
import { report } from './report.ts';

const TXS = 1000;
const genesis = { chainId: 31337, hardfork: 'prague' as const, mnemonic: 'test test test test test test test test test test test junk', accounts: 2, balanceEth: 10_000 };
const log = createLogger({ level: 'silent' });
const dir = await mkdtemp(join(tmpdir(), 'levity-bench-chain-'));
const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

try {
  const chain = createEmbeddedChain({ dataDir: dir, host: '127.0.0.1', port: 0, genesis, log });
  await chain.start();
  const [from, to] = chain.accounts.map((a) => a.address) as [Hex, Hex];

  // In process, through the journal: every write is fsynced before it is acknowledged.
  let start = process.hrtime.bigint();
  for (let i = 0; i < TXS; i++) {
    await chain.provider.request({ method: 'eth_sendTransaction', params: [{ from, to, value: '0x1', gas: '0x5208' }] });
  }
  report({ bench: 'chain', name: 'journaled transfers, in process', value: TXS / seconds(start), unit: 'tx/s', note: 'one block per tx, fsync per tx' });

  // Over HTTP with viem, locally signed: what a client sees.
  const account = privateKeyToAccount(chain.accounts[1]!.privateKey);
  const wallet = createWalletClient({ account, chain: levityChain(31337, chain.url), transport: http() });
  start = process.hrtime.bigint();
  for (let nonce = 0; nonce < TXS; nonce++) {
    await wallet.sendTransaction({ to: from, value: 1n, nonce, gas: 21_000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 1n });
  }
  report({ bench: 'chain', name: 'viem signed transfers over HTTP', value: TXS / seconds(start), unit: 'tx/s', note: 'sendTransaction, fixed nonce and gas' });
  await chain.stop();

  // A restart replays the whole journal with the original timestamps.
  start = process.hrtime.bigint();
  const again = createEmbeddedChain({ dataDir: dir, host: '127.0.0.1', port: 0, genesis, log });
  await again.start();
  const replay = seconds(start);
  await again.stop();
  report({ bench: 'chain', name: `restart replaying ${2 * TXS} txs`, value: replay * 1000, unit: 'ms', note: `${Math.round((2 * TXS) / replay)} tx/s replayed` });
} finally {
  await rm(dir, { recursive: true, force: true });
}

// `levity up` from nothing to the printed table, as `npm start` does it (solc cache warm).
const upDir = await mkdtemp(join(tmpdir(), 'levity-bench-up-'));
try {
  const start = process.hrtime.bigint();
  const devnet = await startDevnet(upDir);
  report({ bench: 'chain', name: 'levity up to ready (fresh data dir)', value: seconds(start) * 1000, unit: 'ms', target: '≤ 20000 ms' });
  await devnet.stop();
} finally {
  await rm(upDir, { recursive: true, force: true });
}
