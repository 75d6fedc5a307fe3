/**
 * The user side of serving against the real thing: the real `openai` client through billingFetch,
 * a real provider (tiny random-weight GGUF on node-llama-cpp) and the ServingLedger on the devnet EVM.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { parseEther } from 'viem';
import type { Address } from 'viem';
import type { HDAccount } from 'viem/accounts';
import { SERVING_LOCK_TIME } from '../../chain/contract-plan.ts';
import { startTestEvm } from '../../chain/test-evm.ts';
import type { TestEvm } from '../../chain/test-evm.ts';
import { ConflictError, InvalidInputError, LevityError, NotFoundError } from '../../protocol/errors.ts';
import { billingHeaders } from '../../protocol/serving/billing.ts';
import { signReceipt } from '../../protocol/serving/receipt.ts';
import { createLlamaBackend, createProvider, generateTinyModel } from '../../serving/index.ts';
import type { ChatBackend, Provider } from '../../serving/index.ts';
import { createLogger } from '../../shared/log.ts';
import { billingFetch, estimateRequest, receiptOf } from './billing-fetch.ts';
import type { BilledResponse, FetchLike } from './billing-fetch.ts';
import { chat } from './chat.ts';
import { claimRefund, deposit, fund, ledgerAccount, requestRefund, subAccount, withdraw } from './ledger.ts';
import type { ServingWallet } from './ledger.ts';
import { listServices } from './services.ts';

const PRICES = [
  { inputPricePerToken: 2_000_000_000n, outputPricePerToken: 5_000_000_000n },
  { inputPricePerToken: 3_000_000_000n, outputPricePerToken: 11_000_000_000n },
] as const;

describe('billingFetch with the openai client against a real provider', () => {
  let evm: TestEvm;
  let dir: string;
  let backend: ChatBackend;
  let ledger: Address;
  let registry: Address;
  let chainId: number;
  let user: HDAccount;
  let wallet: ServingWallet;
  const providers: Provider[] = [];
  /** Every charge a provider made to `user`, verified or not, by provider: what settlement must pay. */
  const charged = new Map<Address, bigint>();
  const receipts: BilledResponse[] = [];

  const ledgerParams = () => ({ client: evm.publicClient, wallet, ledger });
  const p1 = () => providers[0]!;
  const p2 = () => providers[1]!;
  const charge = (provider: Address, cost: bigint) => charged.set(provider, (charged.get(provider) ?? 0n) + cost);

  /** Records each response's cost as the provider sent it, so charges for rejected responses are counted too. */
  const witness =
    (provider: Address, tamper?: (text: string) => string): FetchLike =>
    async (input, init) => {
      const response = await fetch(input, init);
      const url = String(input instanceof Request ? input.url : input);
      if (!/completions$/.test(url) || !response.ok) return response;
      const text = await response.text();
      for (const match of text.matchAll(/"levity":\{[^}]*"cost":"(\d+)"/g)) charge(provider, BigInt(match[1]!));
      return new Response(tamper ? tamper(text) : text, { status: response.status, headers: response.headers });
    };

  const openai = (provider: Provider, options: { tamper?: (text: string) => string; account?: HDAccount } = {}) => {
    const fetcher = billingFetch({
      account: options.account ?? user,
      chainId,
      ledger,
      provider: provider.address,
      fetch: witness(provider.address, options.tamper),
      onReceipt: (r) => receipts.push(r),
    });
    return { client: new OpenAI({ baseURL: `${provider.url}/v1`, apiKey: 'levity', fetch: fetcher, maxRetries: 0 }), fetcher };
  };

  before(async () => {
    evm = await startTestEvm();
    dir = await mkdtemp(join(tmpdir(), 'levity-sdk-serving-'));
    chainId = await evm.publicClient.getChainId();
    registry = await evm.deploy(evm.compiled.contracts.ServiceRegistry!);
    ledger = await evm.deploy(evm.compiled.contracts.ServingLedger!, [SERVING_LOCK_TIME]);
    user = evm.accounts[1]!;
    wallet = evm.wallet(user);
    const model = await generateTinyModel({ path: join(dir, 'levity-tiny.gguf') });
    backend = await createLlamaBackend({ modelPath: model.path });
    const log = createLogger({ level: 'silent' });
    for (const [i, prices] of PRICES.entries()) {
      const provider = createProvider({
        dataDir: await mkdtemp(join(dir, `p${i}-`)),
        host: '127.0.0.1',
        port: 0,
        log,
        client: evm.publicClient,
        wallet: evm.wallet(evm.accounts[5 + i]!),
        chainId,
        registry,
        ledger,
        backend,
        service: { name: `chat-${i}`, ...prices },
        settleIntervalMs: 0,
        chainCacheMs: 0,
      });
      await provider.start();
      providers.push(provider);
    }
  });

  after(async () => {
    for (const provider of providers) await provider.stop().catch(() => undefined);
    await backend?.close();
    await evm?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists both services with their prices', async () => {
    const services = await listServices({ client: evm.publicClient, registry });
    assert.equal(services.length, 2);
    for (const [i, provider] of providers.entries()) {
      const s = services.find((x) => x.provider === provider.address);
      assert.ok(s);
      assert.equal(s.url, provider.url);
      assert.equal(s.model, 'levity-tiny');
      assert.equal(s.inputPricePerToken, PRICES[i]!.inputPricePerToken);
      assert.equal(s.outputPricePerToken, PRICES[i]!.outputPricePerToken);
    }
    assert.equal((await listServices({ client: evm.publicClient, registry, provider: p2().address })).length, 1);
  });

  it('deposits and funds two sub-accounts; typed errors for what the ledger refuses', async () => {
    await assert.rejects(deposit({ ...ledgerParams(), amount: 0n }), InvalidInputError);
    await deposit({ ...ledgerParams(), amount: parseEther('1') });
    await fund({ ...ledgerParams(), provider: p1().address, amount: parseEther('0.1') });
    await fund({ ...ledgerParams(), provider: p2().address, amount: parseEther('0.05') });
    await assert.rejects(fund({ ...ledgerParams(), provider: p1().address, amount: parseEther('5') }), (error: unknown) => {
      assert.ok(error instanceof ConflictError);
      assert.equal(error.code, 'SERVING_INSUFFICIENT_AVAILABLE');
      return true;
    });
    await assert.rejects(claimRefund({ ...ledgerParams(), provider: p1().address }), NotFoundError);
    assert.equal((await ledgerAccount({ client: evm.publicClient, ledger, user: user.address })).available, parseEther('0.85'));
    const sub = await subAccount({ client: evm.publicClient, ledger, user: user.address, provider: p1().address });
    assert.deepEqual(sub, { balance: parseEther('0.1'), pendingRefund: 0n, unlockAt: 0n, settled: 0n, lastNonce: 0n });
  });

  it('pays for a non-streaming chat completion and verifies its signature', async () => {
    const { client } = openai(p1());
    const { data, response } = await client.chat.completions
      .create({ model: 'levity-tiny', messages: [{ role: 'user', content: 'hello world, say something' }], max_tokens: 12 })
      .withResponse();
    assert.equal(typeof data.choices[0]?.message.content, 'string');
    assert.ok(data.usage && data.usage.prompt_tokens > 0 && data.usage.completion_tokens > 0 && data.usage.completion_tokens <= 12);
    const receipt = receiptOf(response);
    assert.ok(receipt, 'the response is verified');
    assert.equal(receipt.id, data.id);
    assert.equal(receipt.promptTokens, data.usage.prompt_tokens);
    assert.equal(receipt.cost, BigInt(data.usage.prompt_tokens) * PRICES[0].inputPricePerToken + BigInt(data.usage.completion_tokens) * PRICES[0].outputPricePerToken);
    assert.equal(receipt.spent, receipt.cost);
    assert.ok(receipt.cumulative >= receipt.spent);
  });

  it('pays for a streamed chat completion: every chunk reaches the client, then usage and the signed levity chunk', async () => {
    const { client } = openai(p1());
    const before = receipts.length;
    const stream = await client.chat.completions.create({ model: 'levity-tiny', messages: [{ role: 'user', content: 'the tiny model' }], max_tokens: 20, stream: true });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks += 1;
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
      if ('levity' in chunk) assert.ok((chunk as { levity: { signature: string } }).levity.signature.startsWith('0x'));
    }
    assert.ok(chunks >= 3);
    assert.ok(usage && usage.completion_tokens > 0);
    const receipt = receipts.at(-1)!;
    assert.equal(receipts.length, before + 1);
    assert.equal(receipt.stream, true);
    assert.equal(receipt.completionTokens, usage.completion_tokens);
    assert.ok(text.length > 0);
  });

  it('pays for plain completions, streamed and not', async () => {
    const { client } = openai(p1());
    const whole = await client.completions.create({ model: 'levity-tiny', prompt: 'hello', max_tokens: 8 });
    assert.ok(whole.usage && whole.usage.completion_tokens > 0);
    const stream = await client.completions.create({ model: 'levity-tiny', prompt: 'world', max_tokens: 8, stream: true });
    let pieces = 0;
    for await (const chunk of stream) pieces += chunk.choices.length;
    assert.ok(pieces > 0);
    assert.equal(receipts.at(-1)!.stream, true);
  });

  it('rejects a tampered response, whole (a 502 that openai does not retry) or streamed (the stream errors)', async () => {
    // Always valid JSON, whatever the model generated: one extra letter in front of the (first) content.
    const swap = (text: string) => text.replace('"content":"', '"content":"X');
    const { client } = openai(p1(), { tamper: swap });
    await assert.rejects(
      client.chat.completions.create({ model: 'levity-tiny', messages: [{ role: 'user', content: 'hello' }], max_tokens: 8 }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.APIError, String(error));
        assert.equal(error.status, 502);
        assert.equal(error.code, 'SERVING_BAD_RESPONSE_SIGNATURE');
        return true;
      },
    );
    const stream = await client.chat.completions.create({ model: 'levity-tiny', messages: [{ role: 'user', content: 'hello' }], max_tokens: 8, stream: true });
    let seen = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) seen += chunk.choices.length;
      })(),
      (error: unknown) => {
        const found = error instanceof LevityError ? error : (error as { cause?: unknown }).cause;
        assert.ok(found instanceof LevityError, String(error));
        assert.equal(found.code, 'SERVING_BAD_RESPONSE_SIGNATURE');
        return true;
      },
    );
    assert.ok(seen > 0, 'the content chunks still reached the client');
    // The provider charged for both; the next honest request catches up with its spent (FEE_CAP retry).
    const honest = await openai(p1()).client.chat.completions.create({ model: 'levity-tiny', messages: [{ role: 'user', content: 'a' }], max_tokens: 4 });
    assert.ok(honest.usage);
  });

  it('serialises concurrent requests: nonces strictly increase and never repeat', async () => {
    const { client } = openai(p1());
    await Promise.all(
      ['one', 'two', 'three'].map((content) => client.chat.completions.create({ model: 'levity-tiny', messages: [{ role: 'user', content }], max_tokens: 4 })),
    );
    const nonces = receipts.filter((r) => r.provider === p1().address).map((r) => r.nonce);
    for (let i = 1; i < nonces.length; i++) assert.ok(nonces[i]! > nonces[i - 1]!, `nonce ${nonces[i]} after ${nonces[i - 1]}`);
  });

  it('catches up with nonce and spent another client moved: after a 409, and on a new client\'s first call', async () => {
    const statuses: number[] = [];
    const counting: FetchLike = async (input, init) => {
      const response = await witness(p1().address)(input, init);
      if (String(input).endsWith('/completions')) statuses.push(response.status);
      return response;
    };
    const old = billingFetch({ account: user, chainId, ledger, provider: p1().address, fetch: counting, onReceipt: (r) => receipts.push(r) });
    const oldClient = new OpenAI({ baseURL: `${p1().url}/v1`, apiKey: 'levity', fetch: old, maxRetries: 0 });
    await oldClient.chat.completions.create({ model: 'levity-tiny', messages: [{ role: 'user', content: 'warm up' }], max_tokens: 2 });

    /** A client elsewhere with the same key: a receipt far ahead, sent by hand. */
    const elsewhere = async (): Promise<bigint> => {
      const last = receipts.at(-1)!;
      const nonce = last.nonce + 10n;
      const cumulative = charged.get(p1().address)! + parseEther('0.001');
      const signature = await signReceipt(user, { chainId, verifyingContract: ledger }, { user: user.address, provider: p1().address, cumulativeAmount: cumulative, nonce });
      const response = await witness(p1().address)(`${p1().url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...billingHeaders({ user: user.address, nonce, cumulative, signature }) },
        body: JSON.stringify({ model: 'levity-tiny', prompt: 'elsewhere', max_tokens: 4 }),
      });
      assert.equal(response.status, 200);
      return nonce;
    };

    const first = await elsewhere();
    statuses.length = 0;
    await oldClient.chat.completions.create({ model: 'levity-tiny', messages: [{ role: 'user', content: 'again' }], max_tokens: 4 });
    assert.deepEqual(statuses, [409, 200], 'refused as a replay once, then re-synced and sent with a fresh nonce');
    assert.equal(receipts.at(-1)!.nonce, first + 1n);

    const second = await elsewhere();
    const { client, fetcher } = openai(p1());
    await client.chat.completions.create({ model: 'levity-tiny', messages: [{ role: 'user', content: 'resume' }], max_tokens: 4 });
    assert.equal(receipts.at(-1)!.nonce, second + 1n, 'a new client resumes from GET /v1/billing before its first request');
    assert.equal(fetcher.state().nonce, second + 1n);
    assert.equal(fetcher.state().spent, charged.get(p1().address));
  });

  it('chat() streams deltas that add up to the text, with the verified receipt', async () => {
    const deltas: string[] = [];
    const result = await chat({ url: p2().url, account: user, chainId, ledger, provider: p2().address, prompt: 'hello', maxTokens: 10, onDelta: (d) => deltas.push(d), fetch: witness(p2().address) });
    assert.equal(deltas.join(''), result.text);
    assert.ok(result.usage.completionTokens > 0 && result.usage.completionTokens <= 10);
    assert.equal(result.receipt.provider, p2().address);
    assert.equal(result.receipt.cost, BigInt(result.usage.promptTokens) * PRICES[1].inputPricePerToken + BigInt(result.usage.completionTokens) * PRICES[1].outputPricePerToken);
  });

  it('keeps sub-accounts isolated: a receipt for one provider is worthless to another', async () => {
    const signature = await signReceipt(user, { chainId, verifyingContract: ledger }, { user: user.address, provider: p1().address, cumulativeAmount: parseEther('0.01'), nonce: 1000n });
    const response = await fetch(`${p2().url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...billingHeaders({ user: user.address, nonce: 1000n, cumulative: parseEther('0.01'), signature }) },
      body: JSON.stringify({ model: 'levity-tiny', prompt: 'x', max_tokens: 2 }),
    });
    assert.equal(response.status, 401);
    // A billing fetch for p2 pointed at p1's URL finds out from p1's model list before it signs anything.
    const wrong = billingFetch({ account: user, chainId, ledger, provider: p2().address, url: p1().url });
    await assert.rejects(wrong.prices(), (error: unknown) => error instanceof LevityError && error.code === 'SERVING_PROVIDER_MISMATCH');
    // An unfunded user gets the provider's 402, not a served request.
    const stranger = evm.accounts[3]!;
    await deposit({ client: evm.publicClient, wallet: evm.wallet(stranger), ledger, amount: parseEther('0.01') });
    await assert.rejects(
      openai(p1(), { account: stranger }).client.chat.completions.create({ model: 'levity-tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
      (error: unknown) => error instanceof OpenAI.APIError && error.status === 402 && error.code === 'SERVING_INSUFFICIENT_BALANCE',
    );
  });

  it('settles exactly what was charged, per provider, and refunds the rest after the lock time', async () => {
    for (const provider of providers) await provider.settle();
    const funded = { [p1().address]: parseEther('0.1'), [p2().address]: parseEther('0.05') };
    for (const provider of providers) {
      const sub = await subAccount({ client: evm.publicClient, ledger, user: user.address, provider: provider.address });
      const total = charged.get(provider.address) ?? 0n;
      assert.ok(total > 0n);
      assert.equal(sub.settled, total, `settled for ${provider.address}`);
      assert.equal(sub.balance, funded[provider.address]! - total);
      const verified = receipts.filter((r) => r.provider === provider.address).reduce((sum, r) => sum + r.cost, 0n);
      assert.ok(verified <= total);
    }

    const p1Left = parseEther('0.1') - charged.get(p1().address)!;
    const requested = await requestRefund({ ...ledgerParams(), provider: p1().address });
    assert.equal(requested.amount, p1Left);
    await assert.rejects(claimRefund({ ...ledgerParams(), provider: p1().address }), (error: unknown) => {
      assert.ok(error instanceof ConflictError);
      assert.equal(error.code, 'SERVING_REFUND_LOCKED');
      assert.equal(error.meta.unlockAt, requested.unlockAt);
      return true;
    });
    const rpc = evm.publicClient.request as (args: { method: string; params: unknown[] }) => Promise<unknown>;
    await rpc({ method: 'evm_increaseTime', params: [Number(SERVING_LOCK_TIME) + 1] });
    await rpc({ method: 'evm_mine', params: [] });
    const availableBefore = (await ledgerAccount({ client: evm.publicClient, ledger, user: user.address })).available;
    const claimed = await claimRefund({ ...ledgerParams(), provider: p1().address });
    assert.equal(claimed.amount, p1Left);
    assert.equal((await ledgerAccount({ client: evm.publicClient, ledger, user: user.address })).available, availableBefore + p1Left);

    // p2's sub-account is untouched by p1's refund.
    const sub2 = await subAccount({ client: evm.publicClient, ledger, user: user.address, provider: p2().address });
    assert.equal(sub2.balance, parseEther('0.05') - charged.get(p2().address)!);
    assert.equal(sub2.pendingRefund, 0n);

    const walletBefore = await evm.publicClient.getBalance({ address: user.address });
    const tx = await withdraw({ ...ledgerParams(), amount: availableBefore + p1Left });
    const receipt = await evm.publicClient.getTransactionReceipt({ hash: tx.hash });
    const walletAfter = await evm.publicClient.getBalance({ address: user.address });
    assert.equal(walletAfter, walletBefore + availableBefore + p1Left - receipt.gasUsed * receipt.effectiveGasPrice);
  });
});

describe('estimateRequest', () => {
  it('bounds the prompt by its UTF-8 bytes plus template slack, and max_tokens by the default', () => {
    const chat = estimateRequest({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'héllo' }] }] });
    assert.deepEqual(chat, { model: 'm', promptBytes: 64 + 8 + 4 + 6, maxTokens: 128, choices: 1 });
    const completion = estimateRequest({ prompt: ['ab', 'c'], max_completion_tokens: 7, n: 2 });
    assert.deepEqual(completion, { model: undefined, promptBytes: 64 + 3, maxTokens: 7, choices: 2 });
    assert.throws(() => estimateRequest({ prompt: 'x', max_tokens: 0 }), InvalidInputError);
  });
});
