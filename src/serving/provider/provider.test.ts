import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import type { Address, Hex, LocalAccount } from 'viem';
import { RESPONSE_SIGNATURE_HEADER, verifyResponse } from '../../protocol/serving/response-signature.ts';
import { serviceRegistryAbi } from '../../protocol/serving/service-registry-abi.ts';
import { startTestEvm } from '../../chain/test-evm.ts';
import { openSqlite } from '../../shared/sqlite.ts';
import { createProvider, PROVIDER_STORE_FILE } from './provider.ts';
import type { Provider, ProviderOptions } from './provider.ts';
import { parseSse, receiptSigner, startServingFixture } from './testing.ts';
import type { ServingFixture } from './testing.ts';

const IN = 1_000n;
const OUT = 3_000n;
const FUND = 100_000_000n;
const MARGIN = 1_000_000n;
const MODEL = 'levity-tiny';

type Json = Record<string, any>;
type Levity = { provider: Address; nonce: string; cost: string; spent: string; signature: Hex };

describe('provider role', () => {
  let fx: ServingFixture;
  let provider: Provider;
  let providerAccount: LocalAccount;
  let alice: LocalAccount;
  let mallory: LocalAccount;
  let user: ReturnType<typeof receiptSigner>;
  let dataDir: string;
  const options = (): ProviderOptions => ({
    dataDir,
    host: '127.0.0.1',
    port: 0,
    log: fx.log,
    client: fx.evm.publicClient,
    wallet: fx.evm.wallet(providerAccount),
    chainId: Number(fx.domain.chainId),
    registry: fx.registry,
    ledger: fx.ledger,
    backend: fx.backend,
    service: { name: 'chat', inputPricePerToken: IN, outputPricePerToken: OUT },
    settleIntervalMs: 0,
  });

  before(async () => {
    fx = await startServingFixture(await startTestEvm());
    const accounts = fx.evm.accounts;
    alice = accounts[1]!;
    providerAccount = accounts[5]!;
    mallory = accounts[8]!;
    dataDir = join(fx.dir, 'provider');
    provider = createProvider(options());
    await provider.start();
    user = receiptSigner(alice, provider.address, fx.domain);
  });

  after(async () => {
    await provider?.stop();
    await fx?.close();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${provider.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const getJson = async (path: string): Promise<Json> => (await (await fetch(`${provider.url}${path}`)).json()) as Json;
  const billing = () => getJson(`/v1/billing/${alice.address}`);
  const spent = async () => BigInt((await billing()).spent as string);
  /** A receipt covering what was spent plus a margin: the way a client that knows its spent signs. */
  const paid = async () => user.headers((await spent()) + MARGIN);

  async function assertSigned(levity: Levity, id: string, usage: Json, content: string, nonce: bigint): Promise<void> {
    assert.equal(levity.provider, provider.address);
    assert.equal(levity.nonce, nonce.toString());
    assert.equal(BigInt(levity.cost), BigInt(usage.prompt_tokens) * IN + BigInt(usage.completion_tokens) * OUT);
    const message = {
      provider: provider.address,
      user: alice.address,
      nonce,
      id,
      model: MODEL,
      promptTokens: usage.prompt_tokens as number,
      completionTokens: usage.completion_tokens as number,
      cost: BigInt(levity.cost),
      spentAfter: BigInt(levity.spent),
      content,
    };
    assert.equal(await verifyResponse(message, levity.signature), true);
    assert.equal(await verifyResponse({ ...message, content: `${content}!` }, levity.signature), false);
  }

  it('registers its service on chain and lists its model', async () => {
    const record = await fx.evm.publicClient.readContract({
      address: fx.registry,
      abi: serviceRegistryAbi,
      functionName: 'service',
      args: [provider.address, 'chat'],
    });
    assert.equal(record.url, provider.url);
    assert.equal(record.model, MODEL);
    assert.equal(record.serviceType, 'chat');
    assert.equal(record.verifiability, 'signed-response');
    assert.equal(record.inputPricePerToken, IN);
    assert.equal(record.outputPricePerToken, OUT);
    assert.equal(provider.model, MODEL);
    const models = await getJson('/v1/models');
    assert.equal(models.object, 'list');
    assert.deepEqual(
      models.data.map((m: Json) => [m.id, m.object, m.levity]),
      [[MODEL, 'model', { provider: provider.address, inputPricePerToken: '1000', outputPricePerToken: '3000' }]],
    );
    const health = await getJson('/health');
    assert.equal(health.status, 'ok');
    assert.equal(health.address, provider.address);
  });

  it('serves a paid chat request with real usage and a response signature that verifies', async () => {
    await fx.ledgerTx(alice, 'deposit', [], FUND * 2n);
    await fx.ledgerTx(alice, 'fund', [provider.address, FUND]);
    const messages = [{ role: 'user', content: 'say hello to the world' }];
    const nonce = user.nextNonce;
    const res = await post('/v1/chat/completions', { model: MODEL, messages, max_tokens: 16, temperature: 0 }, await paid());
    assert.equal(res.status, 200);
    const body = (await res.json()) as Json;
    assert.equal(body.object, 'chat.completion');
    assert.match(body.id, /^chatcmpl-/);
    assert.equal(body.model, MODEL);
    const choice = body.choices[0];
    assert.equal(choice.message.role, 'assistant');
    assert.equal(typeof choice.message.content, 'string');
    assert.ok(['stop', 'length'].includes(choice.finish_reason));
    const promptTokens = await fx.backend.countPromptTokens({ model: MODEL, messages: messages as never, maxTokens: 16 });
    assert.equal(body.usage.prompt_tokens, promptTokens);
    assert.ok(body.usage.completion_tokens >= 1 && body.usage.completion_tokens <= 16);
    assert.equal(body.usage.total_tokens, body.usage.prompt_tokens + body.usage.completion_tokens);
    await assertSigned(body.levity, body.id, body.usage, choice.message.content, nonce);
    assert.equal(res.headers.get(RESPONSE_SIGNATURE_HEADER), body.levity.signature);
    assert.equal(body.levity.spent, body.levity.cost);
    const b = await billing();
    assert.deepEqual([b.spent, b.lastNonce, b.nextNonce, b.settled, b.inFlight], [body.levity.cost, nonce.toString(), (nonce + 1n).toString(), '0', '0']);
  });

  it('streams chat exactly like OpenAI, and the concatenated deltas are what is signed', async () => {
    const nonce = user.nextNonce;
    const before = await spent();
    const res = await post('/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'hello' }], max_tokens: 12, stream: true }, await paid());
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = parseSse(await res.text()) as Array<Json | string>;
    assert.equal(events.at(-1), '[DONE]');
    const chunks = events.slice(0, -1) as Json[];
    const id = chunks[0]!.id;
    for (const chunk of chunks) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      assert.equal(chunk.id, id);
      assert.equal(chunk.model, MODEL);
      assert.equal(typeof chunk.created, 'number');
    }
    assert.deepEqual(chunks[0]!.choices[0].delta, { role: 'assistant', content: '' });
    const last = chunks.at(-1)!;
    const final = chunks.at(-2)!;
    assert.deepEqual(last.choices, []);
    assert.ok(['stop', 'length'].includes(final.choices[0].finish_reason));
    assert.deepEqual(final.choices[0].delta, {});
    const deltas = chunks.slice(0, -2);
    for (const chunk of deltas) assert.equal(chunk.choices[0].finish_reason, null);
    const content = deltas.map((c) => c.choices[0].delta.content as string).join('');
    assert.ok(deltas.length >= 2, 'some content was streamed');
    await assertSigned(last.levity, id, last.usage, content, nonce);
    assert.equal(BigInt(last.levity.spent), before + BigInt(last.levity.cost));
    assert.equal(await spent(), before + BigInt(last.levity.cost));
  });

  it('serves /v1/completions, whole and streamed', async () => {
    let nonce = user.nextNonce;
    const res = await post('/v1/completions', { model: MODEL, prompt: 'the model says', max_tokens: 8 }, await paid());
    assert.equal(res.status, 200);
    const body = (await res.json()) as Json;
    assert.equal(body.object, 'text_completion');
    assert.match(body.id, /^cmpl-/);
    assert.equal(typeof body.choices[0].text, 'string');
    assert.equal(body.usage.prompt_tokens, await fx.backend.countPromptTokens({ model: MODEL, prompt: 'the model says', maxTokens: 8 }));
    await assertSigned(body.levity, body.id, body.usage, body.choices[0].text, nonce);

    nonce = user.nextNonce;
    const streamed = await post('/v1/completions', { model: MODEL, prompt: ['the model says'], max_tokens: 8, stream: true }, await paid());
    const events = parseSse(await streamed.text()) as Array<Json | string>;
    assert.equal(events.at(-1), '[DONE]');
    const chunks = events.slice(0, -1) as Json[];
    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    for (const chunk of chunks) assert.equal(chunk.object, 'text_completion');
    const text = chunks.slice(0, -2).map((c) => c.choices[0].text as string).join('');
    assert.ok(['stop', 'length'].includes(chunks.at(-2)!.choices[0].finish_reason));
    await assertSigned(last.levity, last.id, last.usage, text, nonce);
  });

  it('works with the real openai client through a fetch that adds the billing headers', async () => {
    const nonces: bigint[] = [];
    const billingFetch: typeof fetch = async (input, init) => {
      const headers = new Headers(init?.headers);
      nonces.push(user.nextNonce);
      for (const [k, v] of Object.entries(await paid())) headers.set(k, v);
      return fetch(input, { ...init, headers });
    };
    const client = new OpenAI({ baseURL: `${provider.url}/v1`, apiKey: 'levity', fetch: billingFetch, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hello' }], max_tokens: 8 });
    const levity = (completion as unknown as { levity: Levity }).levity;
    await assertSigned(levity, completion.id, completion.usage as unknown as Json, completion.choices[0]!.message.content ?? '', nonces[0]!);

    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hello' }], max_tokens: 8, stream: true });
    let content = '';
    let tail: Json | undefined;
    for await (const chunk of stream) {
      content += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.choices.length === 0) tail = chunk as unknown as Json;
    }
    assert.ok(tail, 'the usage chunk arrived');
    await assertSigned(tail.levity, tail.id, tail.usage, content, nonces[1]!);
  });

  it('refuses bad requests with their 4xx, OpenAI-style, and charges nothing', async () => {
    const before = await billing();
    const requestsBefore = (await getJson('/health')).requests;
    const nonce = user.nextNonce;
    const good = { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 };
    const cap = BigInt(before.spent) + MARGIN;
    const signed = (cumulative = cap, extra: Parameters<typeof user.headers>[1] = {}) => user.headers(cumulative, { nonce, ...extra });
    const tampered = async () => ({ ...(await signed()), 'X-Levity-Cumulative': (cap + 1n).toString() });
    const { 'X-Levity-Signature': _, ...unsigned } = await signed();
    const cases: Array<[name: string, path: string, body: unknown, headers: Record<string, string>, status: number, code: string]> = [
      ['no billing headers', '/v1/chat/completions', good, {}, 400, 'SERVING_BILLING_MISSING'],
      ['no signature', '/v1/chat/completions', good, unsigned, 400, 'SERVING_BILLING_MISSING'],
      ['malformed nonce', '/v1/chat/completions', good, { ...(await signed()), 'X-Levity-Nonce': '01' }, 400, 'SERVING_BILLING_MALFORMED'],
      ['forged signature', '/v1/chat/completions', good, await signed(cap, { signer: mallory }), 401, 'SERVING_BAD_SIGNATURE'],
      ['signed for another provider', '/v1/chat/completions', good, await signed(cap, { provider: mallory.address }), 401, 'SERVING_BAD_SIGNATURE'],
      ['tampered cumulative', '/v1/chat/completions', good, await tampered(), 401, 'SERVING_BAD_SIGNATURE'],
      ['replayed nonce', '/v1/chat/completions', good, await user.headers(cap, { nonce: nonce - 1n }), 409, 'SERVING_NONCE_REPLAYED'],
      ['fee cap exceeded', '/v1/chat/completions', good, await signed(BigInt(before.spent) + 1n), 402, 'SERVING_FEE_CAP_EXCEEDED'],
      ['insufficient balance', '/v1/chat/completions', good, await signed(FUND + 1n), 402, 'SERVING_INSUFFICIENT_BALANCE'],
      ['unknown model', '/v1/chat/completions', { ...good, model: 'gpt-9' }, await signed(), 404, 'SERVING_UNKNOWN_MODEL'],
      ['malformed JSON', '/v1/chat/completions', '{"model":', await signed(), 400, 'SERVING_BAD_JSON'],
      ['a JSON array', '/v1/chat/completions', '[]', await signed(), 400, 'SERVING_BAD_REQUEST'],
      ['no messages', '/v1/chat/completions', { model: MODEL }, await signed(), 400, 'SERVING_BAD_REQUEST'],
      ['messages a string', '/v1/chat/completions', { model: MODEL, messages: 'hi' }, await signed(), 400, 'SERVING_BAD_REQUEST'],
      ['empty messages', '/v1/chat/completions', { model: MODEL, messages: [] }, await signed(), 400, 'SERVING_BAD_REQUEST'],
      ['unknown role', '/v1/chat/completions', { model: MODEL, messages: [{ role: 'wizard', content: 'x' }] }, await signed(), 400, 'SERVING_BAD_REQUEST'],
      ['numeric content', '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 5 }] }, await signed(), 400, 'SERVING_BAD_REQUEST'],
      ['no model', '/v1/chat/completions', { messages: good.messages }, await signed(), 400, 'SERVING_BAD_REQUEST'],
      ['negative max_tokens', '/v1/chat/completions', { ...good, max_tokens: -1 }, await signed(), 400, 'SERVING_BAD_REQUEST'],
      ['zero max_tokens', '/v1/chat/completions', { ...good, max_tokens: 0 }, await signed(), 400, 'SERVING_BAD_REQUEST'],
      ['fractional max_tokens', '/v1/chat/completions', { ...good, max_tokens: 1.5 }, await signed(), 400, 'SERVING_BAD_REQUEST'],
      ['string max_tokens', '/v1/chat/completions', { ...good, max_tokens: '16' }, await signed(), 400, 'SERVING_BAD_REQUEST'],
      ['absurd max_tokens', '/v1/chat/completions', { ...good, max_completion_tokens: 1e12 }, await signed(), 400, 'SERVING_BAD_REQUEST'],
      ['string temperature', '/v1/chat/completions', { ...good, temperature: 'hot' }, await signed(), 400, 'SERVING_BAD_REQUEST'],
      ['string stream', '/v1/chat/completions', { ...good, stream: 'yes' }, await signed(), 400, 'SERVING_BAD_REQUEST'],
      ['n of 2', '/v1/chat/completions', { ...good, n: 2 }, await signed(), 400, 'SERVING_BAD_REQUEST'],
      ['prompt over the context', '/v1/chat/completions', { ...good, messages: [{ role: 'user', content: 'hello '.repeat(600) }] }, await signed(), 400, 'SERVING_CONTEXT_EXCEEDED'],
      ['no prompt', '/v1/completions', { model: MODEL }, await signed(), 400, 'SERVING_BAD_REQUEST'],
      ['token-array prompt', '/v1/completions', { model: MODEL, prompt: [1, 2, 3] }, await signed(), 400, 'SERVING_BAD_REQUEST'],
      ['body over the limit', '/v1/chat/completions', { ...good, pad: 'x'.repeat(5 * 1024 * 1024) }, await signed(), 413, 'SERVING_BODY_TOO_LARGE'],
    ];
    for (const [name, path, body, headers, status, code] of cases) {
      const res = await post(path, body, headers);
      const answer = (await res.json()) as Json;
      assert.equal(res.status, status, `${name}: ${JSON.stringify(answer)}`);
      assert.equal(answer.error?.code, code, name);
      assert.equal(typeof answer.error.message, 'string', name);
      assert.equal(typeof answer.error.type, 'string', name);
    }
    const feeCap = (await (await post('/v1/chat/completions', good, await signed(BigInt(before.spent) + 1n))).json()) as Json;
    const required = BigInt(feeCap.error.meta.required);
    assert.ok(required > BigInt(before.spent) + 1n);

    const bad = await fetch(`${provider.url}/v1/billing/alice`);
    assert.equal(bad.status, 400);
    const missing = await fetch(`${provider.url}/v1/nothing`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as Json).error.code, 'HTTP_NOT_FOUND');

    assert.deepEqual(await billing(), before);
    assert.equal((await getJson('/health')).requests, requestsBefore);
    // The refusals used up nothing: the same nonce, with exactly the cap the 402 named, is served.
    const res = await post('/v1/chat/completions', good, await user.headers(required, { nonce }));
    assert.equal(res.status, 200, await res.clone().text());
    user.reuse(nonce + 1n);
    const body = (await res.json()) as Json;
    assert.ok(BigInt(body.levity.spent) <= required);
  });

  it('re-reads the chain once when the cap is above a cached balance', async () => {
    const b = await billing();
    const cumulative = FUND + 5n;
    const refused = await post('/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }, await user.headers(cumulative, { nonce: user.nextNonce }));
    assert.equal(refused.status, 402);
    await fx.ledgerTx(alice, 'fund', [provider.address, 10n]);
    const served = await post('/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }, await user.headers(cumulative));
    assert.equal(served.status, 200);
    assert.ok(BigInt(((await served.json()) as Json).levity.spent) > BigInt(b.spent));
  });

  /** One sample of the provider's /metrics, summed over the series that carry `labels`. */
  async function metric(name: string, labels = ''): Promise<number> {
    const text = await (await fetch(`${provider.url}/metrics`)).text();
    return text
      .split('\n')
      .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      .filter((line) => line.includes(labels))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  }

  it('settles exactly what was spent from the sub-account to the provider', async () => {
    const owed = await spent();
    assert.equal(await metric('levity_provider_unsettled_wei'), Number(owed));
    assert.equal(await metric('levity_provider_charged_wei_total'), Number(owed));
    assert.ok((await metric('levity_provider_tokens_total', 'kind="completion"')) > 0);
    assert.ok((await metric('levity_provider_requests_total', 'status="200"')) > 0);
    assert.ok((await metric('levity_provider_requests_total', 'status="4')) > 0, 'refused requests are counted too');
    const subBefore = await fx.subAccount(alice.address, provider.address);
    const ethBefore = await fx.evm.publicClient.getBalance({ address: provider.address });
    const results = await provider.settle();
    assert.equal(results.length, 1);
    const [result] = results;
    assert.equal(result!.outcome, 'settled');
    assert.equal(result!.paid, owed);
    const receipt = await fx.evm.publicClient.getTransactionReceipt({ hash: result!.tx! });
    const ethAfter = await fx.evm.publicClient.getBalance({ address: provider.address });
    assert.equal(ethAfter - ethBefore, owed - receipt.gasUsed * receipt.effectiveGasPrice);
    const subAfter = await fx.subAccount(alice.address, provider.address);
    assert.equal(subAfter.balance, subBefore.balance - owed);
    assert.equal(subAfter.settled, owed);
    assert.equal(subAfter.lastNonce, user.nextNonce - 1n);
    assert.equal((await billing()).settled, owed.toString());
    assert.deepEqual(await provider.settle(), [], 'nothing left to settle');
    assert.equal(await metric('levity_provider_settlements_total', 'outcome="settled"'), 1);
    assert.equal(await metric('levity_provider_settled_wei_total'), Number(owed));
    assert.equal(await metric('levity_provider_unsettled_wei'), 0);
  });

  it('keeps spent and nonces across a restart, settles at stop, and never settles twice', async () => {
    const res = await post('/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'one more' }], max_tokens: 4 }, await paid());
    assert.equal(res.status, 200);
    const served = await billing();
    // A long stream is running when the provider stops: it is cut, and not charged.
    const cutNonce = user.nextNonce;
    const long = await post('/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'go on' }], max_tokens: 480, stream: true, temperature: 0 }, await user.headers(BigInt(served.spent) + 10n * MARGIN));
    assert.equal(long.status, 200);
    const reader = long.body!.getReader();
    let seen = '';
    while (!seen.includes('"content":"') || seen.split('\n\n').length < 4) {
      const { value, done } = await reader.read();
      assert.ok(!done);
      seen += new TextDecoder().decode(value);
    }
    await provider.stop();
    await reader.cancel().catch(() => undefined);
    const atStop = await fx.subAccount(alice.address, provider.address);
    assert.equal(atStop.settled.toString(), served.spent, 'stop settled the rest');

    // Lose the record of that settlement, as a crash between the transaction and the write would.
    const db = openSqlite(join(dataDir, PROVIDER_STORE_FILE));
    db.prepare('UPDATE users SET settled = ? WHERE user = ?').run('0', alice.address);
    db.close();

    provider = createProvider(options());
    await provider.start();
    const after = await billing();
    assert.deepEqual([after.spent, after.lastNonce, after.settled], [served.spent, cutNonce.toString(), '0']);
    const replay = await post('/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 2 }, await user.headers(BigInt(served.spent) + MARGIN, { nonce: BigInt(served.lastNonce) }));
    assert.equal(replay.status, 409);
    const results = await provider.settle();
    assert.deepEqual(results.map((r) => [r.outcome, r.paid]), [['synced', 0n]]);
    const final = await fx.subAccount(alice.address, provider.address);
    assert.deepEqual(final, atStop, 'the chain paid nothing more');
    assert.equal((await billing()).settled, served.spent);
    // A new port is a new URL: the registry follows it.
    const record = await fx.evm.publicClient.readContract({ address: fx.registry, abi: serviceRegistryAbi, functionName: 'service', args: [provider.address, 'chat'] });
    assert.equal(record.url, provider.url);
  });
});
