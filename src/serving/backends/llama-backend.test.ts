import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import type { Llama } from 'node-llama-cpp';
import { LevityError } from '../../protocol/errors.ts';
import { createLlamaBackend } from './llama-backend.ts';
import type { ChatBackend, GenerateRequest } from './backend.ts';
import { generateTinyModel, tinyModelGguf } from './tiny-model.ts';

let dir: string;
let modelPath: string;
let llama: Llama;
let backend: ChatBackend;

const chat: GenerateRequest = {
  model: 'levity-tiny',
  messages: [
    { role: 'system', content: 'You are tiny.' },
    { role: 'user', content: 'Hello the world, say something!' },
  ],
  maxTokens: 24,
  temperature: 0.8,
  seed: 42,
};
const plain: GenerateRequest = { model: 'levity-tiny', prompt: 'The model says', maxTokens: 16, temperature: 0.8, seed: 7 };

const hasCode = (code: string) => (error: unknown) => error instanceof LevityError && error.code === code;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'levity-llama-'));
  modelPath = join(dir, 'levity-tiny.gguf');
  await generateTinyModel({ path: modelPath, seed: 1 });
  llama = await getLlama({ gpu: false, build: 'never', progressLogs: false, logLevel: LlamaLogLevel.error });
  backend = await createLlamaBackend({ modelPath }, { llama });
});

after(async () => {
  await backend?.close();
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

test('the tiny model is small and the same bytes for the same seed', async () => {
  const written = await readFile(modelPath);
  assert.ok(written.length < 2 * 1024 * 1024, `${written.length} bytes`);
  assert.ok(written.equals(tinyModelGguf({ seed: 1 }).bytes));
  assert.ok(!Buffer.from(tinyModelGguf({ seed: 2 }).bytes).equals(written));
});

test('the model is named after its file and tokenizes with its own vocabulary', async () => {
  assert.deepEqual(backend.models, ['levity-tiny']);
  assert.equal(backend.contextSize('levity-tiny'), 512);
  const model = await llama.loadModel({ modelPath });
  try {
    const tokens = model.tokenize('Hello the world é');
    assert.equal(model.detokenize(tokens), 'Hello the world é');
    const the = model.tokenize('the').at(-1);
    assert.ok(the !== undefined && tokens.includes(the), 'whole-word pieces are used');
    assert.ok(tokens.length < 'Hello the world é'.length, 'pieces merge');
  } finally {
    await model.dispose();
  }
});

test('a fixed seed gives the same text twice, chat and plain', async () => {
  const first = await backend.generate(chat);
  const second = await backend.generate(chat);
  assert.deepEqual(second, first);
  assert.ok(first.text.length > 0);
  const a = await backend.generate(plain);
  const b = await backend.generate(plain);
  assert.deepEqual(b, a);
  const other = await backend.generate({ ...plain, seed: 8 });
  assert.notEqual(other.text, a.text);
});

test('prompt tokens are counted before generation exactly as generation reports them', async () => {
  for (const request of [chat, plain, { ...chat, messages: [{ role: 'user' as const, content: 'ünïcode ✓ 🙂' }] }]) {
    const counted = await backend.countPromptTokens(request);
    const result = await backend.generate({ ...request, maxTokens: 2 });
    assert.equal(result.promptTokens, counted);
  }
  // The chat template costs tokens on top of the content.
  assert.ok((await backend.countPromptTokens(chat)) > (await backend.countPromptTokens({ model: 'levity-tiny', prompt: 'You are tiny. Hello the world, say something!', maxTokens: 1 })));
});

test('streamed deltas concatenate to the text; maxTokens ends with length', async () => {
  const deltas: string[] = [];
  const streamed = await backend.generate({ ...chat, maxTokens: 40 }, { onText: (delta) => deltas.push(delta) });
  assert.equal(deltas.join(''), streamed.text);
  assert.ok(deltas.length > 1);
  assert.equal(streamed.completionTokens, 40);
  assert.equal(streamed.finishReason, 'length');
  const quiet = await backend.generate({ ...chat, maxTokens: 40 });
  assert.deepEqual(quiet, streamed, 'streaming does not change the result');
});

test('a stop string ends generation before it, in the stream too', async () => {
  const full = await backend.generate({ ...plain, maxTokens: 40 });
  const stop = full.text.slice(12, 15);
  const at = full.text.indexOf(stop);
  const deltas: string[] = [];
  const stopped = await backend.generate({ ...plain, maxTokens: 40, stop: [stop] }, { onText: (d) => deltas.push(d) });
  assert.equal(stopped.finishReason, 'stop');
  assert.equal(stopped.text, full.text.slice(0, at));
  assert.equal(deltas.join(''), stopped.text);
  assert.ok(stopped.completionTokens < 40 && stopped.completionTokens > 0);
});

test('greedy decoding ignores the seed', async () => {
  const a = await backend.generate({ ...plain, temperature: 0, seed: 1 });
  const b = await backend.generate({ ...plain, temperature: 0, seed: 2 });
  assert.equal(a.text, b.text);
});

test('concurrent requests are served one at a time, each as if alone', async () => {
  const alone = await backend.generate(chat);
  const results = await Promise.all([backend.generate(chat), backend.generate(plain), backend.generate(chat)]);
  assert.deepEqual(results[0], alone);
  assert.deepEqual(results[2], alone);
});

test('abort stops a generation with what it had done', async () => {
  const controller = new AbortController();
  let pieces = 0;
  await assert.rejects(
    backend.generate({ ...chat, maxTokens: 400 }, {
      signal: controller.signal,
      onText: () => {
        if (++pieces === 3) controller.abort();
      },
    }),
    (error: unknown) => hasCode('SERVING_ABORTED')(error) && (error as LevityError).meta.completionTokens as number >= 3,
  );
  await assert.rejects(backend.generate(chat, { signal: AbortSignal.abort() }), hasCode('SERVING_ABORTED'));
  assert.deepEqual(await backend.generate(chat), await backend.generate(chat), 'the backend still works');
});

test('bad requests are typed errors', async () => {
  await assert.rejects(backend.generate({ ...chat, model: 'gpt-9' }), hasCode('SERVING_UNKNOWN_MODEL'));
  await assert.rejects(backend.countPromptTokens({ ...chat, model: 'gpt-9' }), hasCode('SERVING_UNKNOWN_MODEL'));
  assert.throws(() => backend.contextSize('gpt-9'), hasCode('SERVING_UNKNOWN_MODEL'));
  await assert.rejects(backend.generate({ ...chat, maxTokens: 0 }), hasCode('SERVING_BAD_REQUEST'));
  await assert.rejects(backend.generate({ ...chat, prompt: 'both' }), hasCode('SERVING_BAD_REQUEST'));
  await assert.rejects(backend.generate({ model: 'levity-tiny', maxTokens: 1 }), hasCode('SERVING_BAD_REQUEST'));
  await assert.rejects(backend.generate({ ...chat, messages: [] }), hasCode('SERVING_BAD_REQUEST'));
  await assert.rejects(backend.generate({ ...plain, stop: [''] }), hasCode('SERVING_BAD_REQUEST'));
  await assert.rejects(backend.generate({ ...plain, prompt: 'the '.repeat(600) }), hasCode('SERVING_CONTEXT_EXCEEDED'));
});

test('generation stops where the context ends', async () => {
  const prompt = 'the '.repeat(500);
  const promptTokens = await backend.countPromptTokens({ ...plain, prompt });
  const result = await backend.generate({ ...plain, prompt, maxTokens: 100 });
  assert.equal(result.completionTokens, 512 - promptTokens);
  assert.equal(result.finishReason, 'length');
});

test('missing, corrupt and closed models are typed errors', async () => {
  await assert.rejects(createLlamaBackend({ modelPath: join(dir, 'nope.gguf') }, { llama }), hasCode('SERVING_MODEL_NOT_FOUND'));
  const corrupt = join(dir, 'corrupt.gguf');
  await writeFile(corrupt, 'GGUF not really a model, just text');
  await assert.rejects(createLlamaBackend({ modelPath: corrupt }, { llama }), hasCode('SERVING_MODEL_INVALID'));
  // A file cut inside its tensor data passes the header check; llama.cpp refuses it, as a typed error too.
  const bytes = await readFile(modelPath);
  await writeFile(corrupt, bytes.subarray(0, bytes.length - 1000));
  await assert.rejects(createLlamaBackend({ modelPath: corrupt }, { llama }), hasCode('SERVING_MODEL_INVALID'));
  const second = await createLlamaBackend({ modelPath, modelName: 'other', contextSize: 256 }, { llama });
  assert.deepEqual(second.models, ['other']);
  assert.equal(second.contextSize('other'), 256);
  await second.close();
  await assert.rejects(second.generate({ ...plain, model: 'other' }), hasCode('SERVING_BACKEND_CLOSED'));
});
