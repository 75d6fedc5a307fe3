import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { createPublicClient, createWalletClient, http, parseEther } from 'viem';
import type { Address, Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { billingFetch, fund, listServices, receiptOf, subAccount } from '../../src/sdk/serving/index.ts';
import { runCli, startDevnet, startNode } from './devnet-process.ts';
import type { RunningDevnet, RunningNode } from './devnet-process.ts';

/** Waits until `probe` returns something other than undefined. */
async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('serving on a devnet: the real openai client, billed and settled on chain', () => {
  let dir: string;
  let devnetDir: string;
  let devnet: RunningDevnet;
  let provider: RunningNode | undefined;
  // A long interval: settlement happens when the test says so (a stop), never by chance in between.
  const startProvider = () =>
    startNode(['--role', 'provider', '--devnet', devnetDir, '--data-dir', join(dir, 'provider'), '--port-base', '0'], 120_000, {
      LEVITY_SERVING_SETTLE_INTERVAL_MS: '3600000',
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-serving-e2e-'));
    devnetDir = join(dir, 'devnet');
    devnet = await startDevnet(devnetDir, [], 180_000, { LEVITY_SERVING_PROVIDERS: '0', LEVITY_DA_NODES: '0' });
    provider = await startProvider();
  });
  after(async () => {
    await provider?.stop('SIGKILL');
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('deposits, chats through openai (plain and streaming), settles exactly the signed usage, and survives kill -9 unsettled', async () => {
    const { chain } = devnet.manifest;
    const ledger = chain.contracts.ServingLedger as Address;
    const registry = chain.contracts.ServiceRegistry as Address;
    const client = createPublicClient({ transport: http(chain.rpc) });
    const account = privateKeyToAccount(chain.accounts[1]!.privateKey as Hex);
    const wallet = createWalletClient({ account, transport: http(chain.rpc) });

    // 1. Deposit through the CLI, then move funds to the provider's sub-account.
    const deposited = await runCli(['ledger', 'deposit', '1', '--devnet', devnetDir, '--json'], 60_000);
    assert.equal(deposited.code, 0, deposited.stderr);
    const [service] = (await listServices({ client, registry })).filter((s) => s.url === provider!.endpoints[0]!.url);
    assert.ok(service, 'the provider registered its service');
    await fund({ client, wallet, ledger, provider: service.provider, amount: parseEther('0.5') });
    const before = await subAccount({ client, ledger, user: account.address, provider: service.provider });

    // 2. The real openai client, paying through our fetch.
    const paying = billingFetch({ account, chainId: chain.chainId, ledger, provider: service.provider, url: service.url });
    const openai = new OpenAI({ baseURL: `${service.url}/v1`, apiKey: 'levity', fetch: paying });
    const { data: completion, response } = await openai.chat.completions
      .create({ model: service.model, messages: [{ role: 'user', content: 'Say something about data availability.' }], max_tokens: 24 })
      .withResponse();
    assert.ok(completion.usage && completion.usage.prompt_tokens > 0 && completion.usage.completion_tokens > 0);
    const first = receiptOf(response);
    assert.ok(first, 'the response carried a verified provider signature');
    const prices = { input: service.inputPricePerToken, output: service.outputPricePerToken };
    assert.equal(first.cost, BigInt(completion.usage.prompt_tokens) * prices.input + BigInt(completion.usage.completion_tokens) * prices.output);

    const stream = await openai.chat.completions.create({
      model: service.model,
      messages: [{ role: 'user', content: 'Now stream a reply.' }],
      max_tokens: 16,
      stream: true,
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(text.length > 0, 'streamed some text');
    assert.ok(usage && usage.completion_tokens > 0);
    const streamed = BigInt(usage.prompt_tokens) * prices.input + BigInt(usage.completion_tokens) * prices.output;
    const charged = first.cost + streamed;
    assert.equal(paying.state().spent, charged, 'what the provider signed equals usage × price');

    // 3. kill -9 between serving and settling: nothing settled yet, then a restart settles what was served.
    const unsettled = await subAccount({ client, ledger, user: account.address, provider: service.provider });
    assert.equal(unsettled.settled, before.settled);
    await provider!.stop('SIGKILL');
    provider = await startProvider();
    await provider.stop('SIGTERM'); // a clean stop settles
    provider = undefined;
    const after = await eventually(async () => {
      const sub = await subAccount({ client, ledger, user: account.address, provider: service.provider });
      return sub.settled > before.settled ? sub : undefined;
    });

    // 4. Exactly the signed usage × price moved, never more.
    assert.equal(after.settled - before.settled, charged);
    assert.equal(before.balance - after.balance, charged);
  });
});
