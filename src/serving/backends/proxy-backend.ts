/**
 * A ChatBackend that forwards to any OpenAI-compatible upstream (vLLM, llama.cpp server, OpenAI itself). Billing uses
 * the usage the upstream reports, so a response without usage is an upstream failure, never a guess. Streaming asks
 * for usage in the last chunk (`stream_options.include_usage`).
 */

import { createHash } from 'node:crypto';
import { NotFoundError, UpstreamError, errorMessage } from '../../protocol/errors.ts';
import { generationAbortedError, validateGenerateRequest } from './backend.ts';
import type { ChatBackend, FinishReason, GenerateOptions, GenerateRequest, GenerateResult } from './backend.ts';
import { createNodeHttpFetch } from './node-http-fetch.ts';
import type { UpstreamFetch, UpstreamText, UpstreamTextAnswer } from './node-http-fetch.ts';

export type ProxyBackendOptions = {
  /** The upstream's base URL, with or without the trailing `/v1`. */
  upstream: string;
  apiKey?: string;
  /** Context window to assume when the upstream's model list does not say (vLLM and llama.cpp server do). */
  contextSize?: number;
  /** Exact prompt counts remembered, by request (1,024); 0 asks the upstream every time. */
  tokenizeCacheSize?: number;
};

/** `fetch` replaces the default transport (node:http with keep-alive, see node-http-fetch.ts). */
export type ProxyBackendDeps = { fetch?: UpstreamFetch };

type Json = Record<string, unknown>;

const DEFAULT_CONTEXT = 8192;
const DEFAULT_TOKENIZE_CACHE = 1024;

export async function createProxyBackend(options: ProxyBackendOptions & ProxyBackendDeps, deps: ProxyBackendDeps = {}): Promise<ChatBackend> {
  const given = deps.fetch ?? options.fetch;
  const transport = given ? undefined : createNodeHttpFetch();
  try {
    return await proxyBackend(options, given ?? transport!.fetch, transport?.text, () => transport?.close());
  } catch (error) {
    transport?.close();
    throw error;
  }
}

async function proxyBackend(options: ProxyBackendOptions, doFetch: UpstreamFetch, doText: UpstreamText | undefined, closeTransport: () => void): Promise<ChatBackend> {
  const base = options.upstream.replace(/\/+$/, '').replace(/\/v1$/, '');
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  // An upstream that redirects an API call is misconfigured: fail loudly rather than follow. Without a
  // redirect to follow (and no window), fetch also skips copying every request and its body.
  const once = { redirect: 'error', window: null } as const satisfies RequestInit;

  const failed = (what: string, details: string, meta: Json = {}, cause?: unknown): UpstreamError =>
    new UpstreamError('SERVING_UPSTREAM_FAILED', `upstream ${what} failed`, { details, meta: { upstream: base, ...meta }, cause });

  const call = async (method: 'GET' | 'POST', path: string, body: Json | undefined, signal?: AbortSignal): Promise<Response> => {
    let response: Response;
    try {
      response = await doFetch(`${base}${path}`, {
        method,
        headers,
        ...once,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw failed(`${method} ${path}`, errorMessage(error), {}, error);
    }
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      throw failed(`${method} ${path}`, `HTTP ${response.status}: ${upstreamMessage(text)}`, { status: response.status });
    }
    return response;
  };

  /** A call whose whole answer is read as text: over the transport's lean path when it has one (no web Response). */
  const exchange = async (method: 'GET' | 'POST', path: string, body: string | undefined, signal?: AbortSignal): Promise<UpstreamTextAnswer> => {
    const init = { method, headers, ...(body === undefined ? {} : { body }), ...(signal ? { signal } : {}) };
    if (doText) return doText(`${base}${path}`, init);
    const response = await doFetch(`${base}${path}`, { ...init, ...once });
    return { status: response.status, text: await response.text() };
  };

  /** A JSON call: the answer's object, or an UpstreamError (an aborted call rethrows as it failed). */
  const callJson = async (method: 'GET' | 'POST', path: string, body: Json | undefined, signal?: AbortSignal): Promise<Json> => {
    const what = `${method} ${path}`;
    let answer: UpstreamTextAnswer;
    try {
      answer = await exchange(method, path, body === undefined ? undefined : JSON.stringify(body), signal);
    } catch (error) {
      if (signal?.aborted) throw error;
      throw failed(what, errorMessage(error), {}, error);
    }
    if (answer.status < 200 || answer.status > 299) throw failed(what, `HTTP ${answer.status}: ${upstreamMessage(answer.text)}`, { status: answer.status });
    let value: unknown;
    try {
      value = JSON.parse(answer.text);
    } catch (error) {
      throw failed(what, `not JSON: ${errorMessage(error)}`);
    }
    if (!isObject(value)) throw failed(what, 'the answer is not a JSON object');
    return value;
  };

  const listed = await callJson('GET', '/v1/models', undefined);
  const contexts = new Map<string, number>();
  for (const entry of Array.isArray(listed.data) ? listed.data : []) {
    if (!isObject(entry) || typeof entry.id !== 'string') continue;
    contexts.set(entry.id, advertisedContext(entry) ?? options.contextSize ?? DEFAULT_CONTEXT);
  }
  if (contexts.size === 0) throw failed('GET /v1/models', 'the upstream lists no models');
  const models = [...contexts.keys()];

  const ensureModel = (model: string): number => {
    const size = contexts.get(model);
    if (size === undefined) {
      throw new NotFoundError('SERVING_UNKNOWN_MODEL', `unknown model ${model}`, { meta: { model, models } });
    }
    return size;
  };

  // undefined until the first try: a missing /tokenize is asked about once, not on every request.
  let tokenizeWorks: boolean | undefined;
  // A count is the upstream's answer for exactly this model and text, so it holds for the same request again (a
  // retry, a shared prompt): one round trip saved per repeat. Keyed by a digest, so a long prompt costs 32 bytes.
  const cacheSize = options.tokenizeCacheSize ?? DEFAULT_TOKENIZE_CACHE;
  const counted = new Map<string, number>();

  const count = async (request: GenerateRequest): Promise<number> => {
    if (tokenizeWorks !== false) {
      const query = JSON.stringify(request.messages ? { model: request.model, messages: request.messages } : { model: request.model, prompt: request.prompt });
      const key = createHash('sha256').update(query).digest('base64');
      const known = counted.get(key);
      if (known !== undefined) {
        counted.delete(key);
        counted.set(key, known);
        return known;
      }
      try {
        const answer = await exchange('POST', '/tokenize', query);
        // Only a vLLM-style answer with `count` applies the chat template; llama.cpp's `{ tokens }` for raw content
        // would undercount a chat, so it is not used.
        const body: unknown = answer.status >= 200 && answer.status < 300 ? JSON.parse(answer.text) : undefined;
        if (isObject(body) && Number.isSafeInteger(body.count) && (body.count as number) >= 0) {
          tokenizeWorks = true;
          if (cacheSize > 0) {
            counted.set(key, body.count as number);
            if (counted.size > cacheSize) counted.delete(counted.keys().next().value!);
          }
          return body.count as number;
        }
        tokenizeWorks = false;
      } catch {
        if (tokenizeWorks === undefined) tokenizeWorks = false;
      }
    }
    // No exact count: an upper bound instead (billing must never be guessed low). Byte-level tokenizers spend at least
    // one UTF-8 byte per token, and common chat templates add fewer than 16 tokens per message (role markers, BOS)
    // plus 16 overall. Templates that inject long default system prompts break this bound; use an upstream with
    // /tokenize for those.
    const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');
    if (request.messages) {
      return request.messages.reduce((sum, m) => sum + bytes(m.role) + bytes(m.content) + 16, 16);
    }
    return bytes(request.prompt ?? '') + 16;
  };

  const generate = async (request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> => {
    validateGenerateRequest(request);
    ensureModel(request.model);
    const chat = request.messages !== undefined;
    const path = chat ? '/v1/chat/completions' : '/v1/completions';
    const stream = options.onText !== undefined;
    const body: Json = {
      model: request.model,
      ...(chat ? { messages: request.messages } : { prompt: request.prompt }),
      max_tokens: request.maxTokens,
      ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
      ...(request.seed === undefined ? {} : { seed: request.seed }),
      ...(request.stop === undefined || request.stop.length === 0 ? {} : { stop: request.stop }),
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    };
    let text = '';
    try {
      if (!stream) {
        const answer = await callJson('POST', path, body, options.signal);
        const choice = firstChoice(answer);
        text = chat ? (isObject(choice?.message) ? stringOr(choice.message.content) : '') : stringOr(choice?.text);
        return { text, ...usageOf(answer.usage, `POST ${path}`), finishReason: finishOf(choice?.finish_reason) };
      }
      const response = await call('POST', path, body, options.signal);
      let finishReason: FinishReason = 'stop';
      let usage: unknown;
      for await (const event of sseEvents(response, () => failed(`POST ${path}`, 'the stream has no body'))) {
        if (event === '[DONE]') break;
        let chunk: unknown;
        try {
          chunk = JSON.parse(event);
        } catch {
          throw failed(`POST ${path}`, 'a stream event is not JSON', { event: event.slice(0, 200) });
        }
        if (!isObject(chunk)) continue;
        if (chunk.error !== undefined) throw failed(`POST ${path}`, `stream error: ${upstreamMessage(JSON.stringify(chunk.error))}`);
        if (chunk.usage !== undefined && chunk.usage !== null) usage = chunk.usage;
        const choice = firstChoice(chunk);
        if (!choice) continue;
        const delta = chat ? (isObject(choice.delta) ? stringOr(choice.delta.content) : '') : stringOr(choice.text);
        if (delta !== '') {
          text += delta;
          options.onText?.(delta);
        }
        if (typeof choice.finish_reason === 'string') finishReason = finishOf(choice.finish_reason);
      }
      return { text, ...usageOf(usage, `POST ${path} (stream)`), finishReason };
    } catch (error) {
      // The upstream's usage is lost with the connection; what was streamed is known.
      if (options.signal?.aborted) throw generationAbortedError({ promptTokens: 0, completionTokens: 0, text });
      throw error;
    }
  };

  const usageOf = (usage: unknown, what: string): { promptTokens: number; completionTokens: number } => {
    const prompt = isObject(usage) ? usage.prompt_tokens : undefined;
    const completion = isObject(usage) ? usage.completion_tokens : undefined;
    if (!isCount(prompt) || !isCount(completion)) {
      throw failed(what, 'the answer reports no token usage, and billing needs it', { usage: usage ?? null });
    }
    return { promptTokens: prompt, completionTokens: completion };
  };

  return {
    models,
    async countPromptTokens(request) {
      validateGenerateRequest(request);
      ensureModel(request.model);
      return count(request);
    },
    contextSize(model) {
      return ensureModel(model);
    },
    generate,
    async close() {
      closeTransport();
    },
  };
}

/** Data payloads of a server-sent-events body, one per event. */
async function* sseEvents(response: Response, noBody: () => Error): AsyncGenerator<string> {
  if (!response.body) throw noBody();
  const decoder = new TextDecoder();
  let buffer = '';
  let pending = '';
  for await (const bytes of response.body) {
    pending += decoder.decode(bytes, { stream: true });
    // A trailing \r waits for the next chunk: it may be the first half of a \r\n.
    const cut = pending.endsWith('\r') ? pending.length - 1 : pending.length;
    buffer += pending.slice(0, cut).replace(/\r\n?/g, '\n');
    pending = pending.slice(cut);
    const blocks = buffer.split('\n\n');
    buffer = blocks.pop() ?? '';
    for (const block of blocks) {
      const data = eventData(block);
      if (data !== undefined) yield data;
    }
  }
  buffer += (pending + decoder.decode()).replace(/\r\n?/g, '\n');
  for (const block of buffer.split('\n\n')) {
    const data = eventData(block);
    if (data !== undefined) yield data;
  }
}

function eventData(block: string): string | undefined {
  const lines = block.split('\n').filter((line) => line.startsWith('data:'));
  return lines.length === 0 ? undefined : lines.map((line) => line.slice(5).replace(/^ /, '')).join('\n');
}

function firstChoice(value: Json): Json | undefined {
  const choices = value.choices;
  if (!Array.isArray(choices) || choices.length === 0) return undefined;
  const first: unknown = choices[0];
  return isObject(first) ? first : undefined;
}

function finishOf(reason: unknown): FinishReason {
  return reason === 'length' ? 'length' : 'stop';
}

/** Context windows as vLLM (`max_model_len`), llama.cpp server (`meta.n_ctx_train`) and others list them. */
function advertisedContext(entry: Json): number | undefined {
  const meta = isObject(entry.meta) ? entry.meta : {};
  for (const value of [entry.max_model_len, entry.context_length, entry.context_window, meta.n_ctx, meta.n_ctx_train]) {
    if (isCount(value) && value > 0) return value;
  }
  return undefined;
}

function upstreamMessage(text: string): string {
  try {
    const value: unknown = JSON.parse(text);
    if (isObject(value) && isObject(value.error) && typeof value.error.message === 'string') return value.error.message;
    if (isObject(value) && typeof value.message === 'string') return value.message;
  } catch {
    // not JSON: the raw text says it
  }
  return text.slice(0, 300);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function stringOr(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
