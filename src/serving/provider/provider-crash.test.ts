/**
 * kill -9 durability: a provider in its own process serves paid requests against the devnet's
 * embedded chain over HTTP, is killed mid-generation, and its successor on the same data dir
 * settles exactly what was served: not the interrupted request, not anything twice. A request
 * commits once, when it is charged, so the interrupted one left nothing behind, not even its
 * receipt: the successor settles with the last receipt of a served request.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createPublicClient, createWalletClient, getAddress, http } from 'viem';
import type { Address, Hex, LocalAccount, PublicClient } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { compileContracts, CONTRACTS_DIR, createEmbeddedChain, levityChain, SOLC_CACHE_DIR } from '../../chain/index.ts';
import { createLogger } from '../../shared/log.ts';
import { generateTinyModel } from '../backends/tiny-model.ts';
import type { CrashChildConfig } from './crash-child.ts';
import { createProvider } from './provider.ts';
import type { Provider } from './provider.ts';
import { parseSse, receiptSigner, startServingFixture } from './testing.ts';
import type { FixtureEvm, ServingFixture } from './testing.ts';

const IN = 2_000n;
const OUT = 5_000n;
const FUND = 10n ** 12n;
const MODEL = 'levity-tiny';
type Json = Record<string, any>;

async function embeddedEvm(dir: string): Promise<{ evm: FixtureEvm; keys: Hex[]; rpc: string }> {
  const log = createLogger({ level: 'silent' });
  const genesis = { chainId: 31337, hardfork: 'prague' as const, mnemonic: 'test test test test test test test test test test test junk', accounts: 6, balanceEth: 1000 };
  const chain = createEmbeddedChain({ dataDir: join(dir, 'chain'), host: '127.0.0.1', port: 0, genesis, log });
  await chain.start();
  const viemChain = levityChain(31337, chain.url);
  const transport = http(chain.url, { retryCount: 0 });
  const publicClient = createPublicClient({ chain: viemChain, transport, pollingInterval: 50 }) as PublicClient;
  const wallet = (account: LocalAccount) => createWalletClient({ chain: viemChain, transport, account });
  const accounts = chain.accounts.map((a) => privateKeyToAccount(a.privateKey));
  return {
    keys: chain.accounts.map((a) => a.privateKey),
    rpc: chain.url,
    evm: {
      publicClient,
      compiled: await compileContracts({ sourcesDir: CONTRACTS_DIR, cacheDir: SOLC_CACHE_DIR }),
      accounts,
      wallet,
      async deploy(artifact, args = []) {
        const hash = await wallet(accounts[0]!).deployContract({ abi: artifact.abi, bytecode: artifact.bytecode, args });
        const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
        assert.equal(receipt.status, 'success');
        return getAddress(receipt.contractAddress!);
      },
      close: () => chain.stop(),
    },
  };
}

async function startChild(config: CrashChildConfig): Promise<{ child: ChildProcess; url: string; address: Address }> {
  const script = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, LEVITY_PROVIDER_CHILD: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`the provider child exited with ${code} before serving`);
  });
  const first = new Promise<string>((resolve) => lines.once('line', resolve));
  const line = await Promise.race([first, exited]);
  const { url, address } = JSON.parse(line) as { url: string; address: Address };
  return { child, url, address };
}

describe('provider killed with -9', () => {
  let fx: ServingFixture;
  let child: ChildProcess | undefined;
  let successor: Provider | undefined;
  let keys: Hex[];
  let rpc: string;

  before(async () => {
    const chainDir = await mkdtemp(join(tmpdir(), 'levity-provider-chain-'));
    const embedded = await embeddedEvm(chainDir);
    keys = embedded.keys;
    rpc = embedded.rpc;
    fx = await startServingFixture({
      ...embedded.evm,
      async close() {
        await embedded.evm.close();
        await rm(chainDir, { recursive: true, force: true });
      },
    });
  });

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    await successor?.stop();
    await fx?.close();
  });

  it('settles exactly what was served before the crash, once', async () => {
    const alice = fx.evm.accounts[1]!;
    const providerKey = keys[3]!;
    const providerAccount = privateKeyToAccount(providerKey);
    // A long context for the child, so that a long generation is surely still running at the kill.
    const longModel = join(fx.dir, 'long', `${MODEL}.gguf`);
    await generateTinyModel({ path: longModel, seed: 7, contextLength: 4096 });
    const dataDir = join(fx.dir, 'provider');
    const config: CrashChildConfig = {
      rpc,
      chainId: 31337,
      registry: fx.registry,
      ledger: fx.ledger,
      key: providerKey,
      dataDir,
      modelPath: longModel,
      inputPricePerToken: IN.toString(),
      outputPricePerToken: OUT.toString(),
    };
    const started = await startChild(config);
    child = started.child;
    const url = started.url;
    const user = receiptSigner(alice, started.address, fx.domain);
    await fx.ledgerTx(alice, 'deposit', [], FUND);
    await fx.ledgerTx(alice, 'fund', [started.address, FUND]);

    let signedSpent = 0n;
    for (const stream of [false, true, false]) {
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(await user.headers(signedSpent + 10n ** 9n)) },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hello' }], max_tokens: 4, stream }),
      });
      assert.equal(res.status, 200);
      const levity = stream ? ((parseSse(await res.text()).at(-2) as Json).levity as Json) : (((await res.json()) as Json).levity as Json);
      assert.equal(BigInt(levity.spent), signedSpent + BigInt(levity.cost));
      signedSpent = BigInt(levity.spent);
    }

    // A long stream: once its first words arrive, the process dies under it.
    const interruptedNonce = user.nextNonce;
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await user.headers(signedSpent + 10n ** 10n)) },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hello' }], max_tokens: 3000, stream: true, temperature: 0 }),
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let seen = '';
    while (!seen.includes('"content":"') || seen.split('\n\n').length < 4) {
      const { value, done } = await reader.read();
      assert.ok(!done, 'the stream ended before the kill');
      seen += new TextDecoder().decode(value);
    }
    child.kill('SIGKILL');
    await once(child, 'exit');
    await reader.read().then(
      function drain(r): unknown {
        if (r.done) return undefined;
        seen += new TextDecoder().decode(r.value);
        return reader.read().then(drain);
      },
      () => undefined,
    );
    assert.ok(!seen.includes('[DONE]'), 'the interrupted stream never finished');
    assert.equal((await fx.subAccount(alice.address, started.address)).settled, 0n, 'the child never settled');

    successor = createProvider({
      dataDir,
      host: '127.0.0.1',
      port: 0,
      log: fx.log,
      client: fx.evm.publicClient,
      wallet: fx.evm.wallet(providerAccount),
      chainId: 31337,
      registry: fx.registry,
      ledger: fx.ledger,
      backend: fx.backend,
      service: { name: 'chat', inputPricePerToken: IN, outputPricePerToken: OUT },
      settleIntervalMs: 0,
    });
    await successor.start();
    const billing = (await (await fetch(`${successor.url}/v1/billing/${alice.address}`)).json()) as Json;
    assert.equal(billing.spent, signedSpent.toString(), 'the interrupted request was not charged');
    const servedNonce = interruptedNonce - 1n;
    assert.equal(billing.lastNonce, servedNonce.toString(), 'the last served request is the latest durable receipt');

    const results = await successor.settle();
    assert.deepEqual(results.map((r) => [r.outcome, r.paid]), [['settled', signedSpent]]);
    const sub = await fx.subAccount(alice.address, started.address);
    assert.equal(sub.settled, signedSpent);
    assert.equal(sub.balance, FUND - signedSpent);
    assert.equal(sub.lastNonce, servedNonce);
    assert.deepEqual(await successor.settle(), []);
    await successor.stop();
    successor = undefined;
    assert.deepEqual(await fx.subAccount(alice.address, started.address), sub, 'stop settled nothing more');
  });
});
