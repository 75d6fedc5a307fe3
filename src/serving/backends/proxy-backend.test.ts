import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LevityError, UpstreamError } from '../../protocol/errors.ts';
import { createProxyBackend } from './proxy-backend.ts';
import type { ChatBackend, GenerateRequest } from './backend.ts';

/** A small OpenAI-compatible upstream: answers are fixed words, usage counts words, SSE arrives in odd slices. */
type Seen = { path: string; body: Record<string, unknown>; authorization: string | undefined };
const seen: Seen[] = [];
let tokenize = true;
let server: Server;
let base: string;
let backend: ChatBackend;

const WORDS = ['Hello', ' from', ' the', ' upstream', ' ✓'];

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = req.url ?? '';
  const body = req.method === 'POST' ? await readBody(req) : {};
  seen.push({ path, body, authorization: req.headers.authorization });
  const json = (status: number, value: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
  };
  if (path === '/v1/models') {
    json(200, { object: 'list', data: [{ id: 'up-model', object: 'model', max_model_len: 2048 }, { id: 'plain-model', object: 'model' }, { id: 'broken' }, { id: 'no-usage' }, { id: 'slow' }] });
    return;
  }
  if (path === '/tokenize') {
    if (!tokenize) return json(404, { error: { message: 'no such route' } });
    const text = JSON.stringify(body.messages ?? body.prompt);
    return json(200, { count: text.length, tokens: [], max_model_len: 2048 });
  }
  const chat = path === '/v1/chat/completions';
  if (!chat && path !== '/v1/completions') return json(404, { error: { message: 'not found' } });
  if (body.model === 'broken') return json(500, { error: { message: 'the GPU caught fire', type: 'server_error' } });
  const maxTokens = Number(body.max_tokens);
  const words = WORDS.slice(0, Math.min(maxTokens, WORDS.length));
  const finish = maxTokens < WORDS.length ? 'length' : 'stop';
  const usage = body.model === 'no-usage' ? undefined : { prompt_tokens: 11, completion_tokens: words.length, total_tokens: 11 + words.length };
  if (body.stream !== true) {
    const choice = chat
      ? { index: 0, message: { role: 'assistant', content: words.join('') }, finish_reason: finish }
      : { index: 0, text: words.join(''), finish_reason: finish };
    return json(200, { id: 'x', object: chat ? 'chat.completion' : 'text_completion', choices: [choice], usage });
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const events = words.map((word, i) =>
    JSON.stringify({ choices: [chat ? { index: 0, delta: { content: word }, finish_reason: i === words.length - 1 ? finish : null } : { index: 0, text: word, finish_reason: i === words.length - 1 ? finish : null }] }),
  );
  const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  if (includeUsage && usage) events.push(JSON.stringify({ choices: [], usage }));
  events.push('[DONE]');
  // \r\n line ends and slices that cut events (and a multi-byte character) apart exercise the SSE parser.
  const payload = Buffer.from(events.map((e) => `data: ${e}\r\n\r\n`).join(''));
  const slice = body.model === 'slow' ? 40 : 7;
  for (let at = 0; at < payload.length; at += slice) {
    if (res.destroyed) return;
    res.write(payload.subarray(at, at + slice));
    await new Promise((resolve) => setTimeout(resolve, body.model === 'slow' ? 30 : 1));
  }
  res.end();
}

before(async () => {
  server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  backend = await createProxyBackend({ upstream: `${base}/v1/`, apiKey: 'sk-test' });
});

after(async () => {
  await backend?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

const chat: GenerateRequest = { model: 'up-model', messages: [{ role: 'user', content: 'hi' }], maxTokens: 10, temperature: 0.5, seed: 3, stop: ['\n'] };
const hasCode = (code: string) => (error: unknown) => error instanceof LevityError && error.code === code;

test('models and context sizes come from the upstream list', () => {
  assert.deepEqual(backend.models, ['up-model', 'plain-model', 'broken', 'no-usage', 'slow']);
  assert.equal(backend.contextSize('up-model'), 2048);
  assert.equal(backend.contextSize('plain-model'), 8192);
  assert.throws(() => backend.contextSize('nope'), hasCode('SERVING_UNKNOWN_MODEL'));
});

test('a non-streaming chat returns the upstream text and usage', async () => {
  seen.length = 0;
  const result = await backend.generate(chat);
  assert.deepEqual(result, { text: 'Hello from the upstream ✓', promptTokens: 11, completionTokens: 5, finishReason: 'stop' });
  const request = seen.find((s) => s.path === '/v1/chat/completions');
  assert.equal(request?.authorization, 'Bearer sk-test');
  assert.deepEqual(request?.body, { model: 'up-model', messages: chat.messages, max_tokens: 10, temperature: 0.5, seed: 3, stop: ['\n'] });
});

test('a streaming chat passes deltas through and takes usage from the last chunk', async () => {
  seen.length = 0;
  const deltas: string[] = [];
  const result = await backend.generate({ ...chat, maxTokens: 3 }, { onText: (d) => deltas.push(d) });
  assert.deepEqual(deltas, ['Hello', ' from', ' the']);
  assert.deepEqual(result, { text: 'Hello from the', promptTokens: 11, completionTokens: 3, finishReason: 'length' });
  const body = seen.find((s) => s.path === '/v1/chat/completions')?.body;
  assert.equal(body?.stream, true);
  assert.deepEqual(body?.stream_options, { include_usage: true });
});

test('plain completions go to /v1/completions, streaming or not', async () => {
  const request: GenerateRequest = { model: 'plain-model', prompt: 'Once', maxTokens: 5 };
  const quiet = await backend.generate(request);
  const deltas: string[] = [];
  const streamed = await backend.generate(request, { onText: (d) => deltas.push(d) });
  assert.deepEqual(quiet, { text: 'Hello from the upstream ✓', promptTokens: 11, completionTokens: 5, finishReason: 'stop' });
  assert.deepEqual(streamed, quiet);
  assert.equal(deltas.join(''), streamed.text);
});

test('prompt tokens come from the upstream /tokenize, else from a UTF-8 upper bound', async () => {
  assert.equal(await backend.countPromptTokens(chat), JSON.stringify(chat.messages).length);
  // The same request again is counted from memory; another one asks the upstream.
  seen.length = 0;
  assert.equal(await backend.countPromptTokens({ ...chat, maxTokens: 99 }), JSON.stringify(chat.messages).length);
  assert.equal(seen.filter((s) => s.path === '/tokenize').length, 0, 'a repeated prompt is not tokenized again');
  const other = { ...chat, messages: [{ role: 'user' as const, content: 'hi there' }] };
  assert.equal(await backend.countPromptTokens(other), JSON.stringify(other.messages).length);
  assert.equal(await backend.countPromptTokens({ ...chat, model: 'plain-model' }), JSON.stringify(chat.messages).length);
  assert.equal(seen.filter((s) => s.path === '/tokenize').length, 2);
  const uncached = await createProxyBackend({ upstream: base, tokenizeCacheSize: 0 });
  seen.length = 0;
  await uncached.countPromptTokens(chat);
  await uncached.countPromptTokens(chat);
  assert.equal(seen.filter((s) => s.path === '/tokenize').length, 2);
  tokenize = false;
  try {
    const bounded = await createProxyBackend({ upstream: base });
    assert.equal(await bounded.countPromptTokens(chat), 16 + ('user'.length + 'hi'.length + 16));
    assert.equal(await bounded.countPromptTokens({ model: 'plain-model', prompt: 'héllo', maxTokens: 1 }), 6 + 16);
    seen.length = 0;
    await bounded.countPromptTokens(chat);
    assert.equal(seen.filter((s) => s.path === '/tokenize').length, 0, 'a missing /tokenize is not asked again');
  } finally {
    tokenize = true;
  }
});

test('upstream failures and missing usage are typed upstream errors', async () => {
  await assert.rejects(backend.generate({ ...chat, model: 'broken' }), (error: unknown) =>
    error instanceof UpstreamError && error.code === 'SERVING_UPSTREAM_FAILED' && error.meta.status === 500 && /caught fire/.test(error.message));
  await assert.rejects(backend.generate({ ...chat, model: 'no-usage' }), hasCode('SERVING_UPSTREAM_FAILED'));
  await assert.rejects(backend.generate({ ...chat, model: 'no-usage' }, { onText: () => {} }), hasCode('SERVING_UPSTREAM_FAILED'));
  await assert.rejects(backend.generate({ ...chat, model: 'nope' }), hasCode('SERVING_UNKNOWN_MODEL'));
  await assert.rejects(backend.generate({ ...chat, maxTokens: -1 }), hasCode('SERVING_BAD_REQUEST'));
});

test('aborting a stream is a typed abort with the text so far', async () => {
  const controller = new AbortController();
  await assert.rejects(
    backend.generate({ ...chat, model: 'slow' }, { signal: controller.signal, onText: () => controller.abort() }),
    (error: unknown) => hasCode('SERVING_ABORTED')(error) && (error as LevityError).meta.text === 'Hello',
  );
});

test('an upstream that is down is a typed upstream error', async () => {
  const dead = createServer();
  await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
  await new Promise((resolve) => dead.close(resolve));
  await assert.rejects(createProxyBackend({ upstream: url }), (error: unknown) => error instanceof UpstreamError && error.code === 'SERVING_UPSTREAM_FAILED');
  const failing = await createProxyBackend({ upstream: base }, {
    fetch: async (input, init) => {
      if (String(input).endsWith('/v1/models')) return fetch(input, init);
      return fetch(`${url}/v1/chat/completions`, init);
    },
  });
  await assert.rejects(failing.generate(chat), (error: unknown) => error instanceof UpstreamError && error.code === 'SERVING_UPSTREAM_FAILED');
  assert.ok((await failing.countPromptTokens(chat)) > 0, 'counting falls back to the bound');
});
