/**
 * A ChatBackend on node-llama-cpp: one GGUF model, one context, one sequence, so requests run one at a time in arrival
 * order. The model's own chat wrapper (from its `tokenizer.chat_template`) renders chats to tokens; the sampling loop
 * is ours, on `LlamaContextSequence.evaluate`, rather than LlamaChatSession/LlamaCompletion, because billing needs
 * facts those hide: the exact prompt tokens (LlamaCompletion prepends its own BOS and silently truncates long
 * prompts), and a completion count that never exceeds maxTokens (LlamaCompletion overruns it while a multi-byte
 * character is still incomplete, which byte-fallback vocabularies do often).
 */

import { stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { getLlama, LlamaLogLevel, resolveChatWrapper } from 'node-llama-cpp';
import type { ChatHistoryItem, ChatWrapper, Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { ConflictError, InvalidInputError, NotFoundError, errorMessage } from '../../protocol/errors.ts';
import { generationAbortedError, validateGenerateRequest } from './backend.ts';
import type { ChatBackend, ChatMessage, FinishReason, GenerateOptions, GenerateRequest, GenerateResult } from './backend.ts';
import { checkGgufFile } from './gguf-check.ts';
import { cutStream } from './stop-text.ts';

export type LlamaBackendOptions = {
  modelPath: string;
  /** The name clients ask for; defaults to the file stem (`levity-tiny.gguf` → `levity-tiny`). */
  modelName?: string;
  /** Tokens of context (prompt + completion); defaults to the model's training context, at most 4096. */
  contextSize?: number;
  /**
   * CPU threads. Defaults to 1 for models under 64 MiB: on tiny matrices llama.cpp's worker threads spin more than
   * they compute, and on a busy 2-core host 2 threads measured ~50× slower than 1 (≈70 vs ≈3,000 tok/s).
   */
  threads?: number;
};

export type LlamaBackendDeps = {
  /** A shared node-llama-cpp instance (left open on close); otherwise the backend gets and disposes its own. */
  llama?: Llama;
};

const DEFAULT_MAX_CONTEXT = 4096;
const SMALL_MODEL_BYTES = 64 * 1024 * 1024;

export async function createLlamaBackend(options: LlamaBackendOptions, deps: LlamaBackendDeps = {}): Promise<ChatBackend> {
  const { modelPath } = options;
  const name = options.modelName ?? basename(modelPath, extname(modelPath));
  const found = await stat(modelPath).catch(() => undefined);
  if (!found?.isFile()) {
    throw new NotFoundError('SERVING_MODEL_NOT_FOUND', 'model file not found', { meta: { modelPath } });
  }
  await checkGgufFile(modelPath);

  const llama = deps.llama ?? (await getLlama({ gpu: false, build: 'never', progressLogs: false, logLevel: LlamaLogLevel.error }));
  let model: LlamaModel;
  let context: LlamaContext;
  try {
    model = await llama.loadModel({ modelPath });
  } catch (error) {
    if (!deps.llama) await llama.dispose();
    throw new InvalidInputError('SERVING_MODEL_INVALID', 'model file could not be loaded', {
      details: errorMessage(error),
      meta: { modelPath },
      cause: error,
    });
  }
  try {
    context = await model.createContext({
      contextSize: options.contextSize ?? Math.min(model.trainContextSize, DEFAULT_MAX_CONTEXT),
      sequences: 1,
      threads: options.threads ?? (model.size < SMALL_MODEL_BYTES ? 1 : undefined),
    });
  } catch (error) {
    await model.dispose();
    if (!deps.llama) await llama.dispose();
    throw new InvalidInputError('SERVING_CONTEXT_FAILED', 'could not create a context for the model', {
      details: errorMessage(error),
      meta: { modelPath, contextSize: options.contextSize },
      cause: error,
    });
  }
  const sequence = context.getSequence();
  // The model's own Jinja template, rendered as is. Automatic resolution would first spend ~0.6 s comparing the
  // template with 17 specialised wrappers, only to pick one that renders the same; models without a template still
  // get automatic resolution (a wrapper chosen from the file's name and architecture).
  const chatWrapper = resolveChatWrapper(model, { type: 'jinjaTemplate', warningLogs: false });
  const contextTokens = context.contextSize;

  let closed = false;
  let tail: Promise<void> = Promise.resolve();

  const ensureOpen = (): void => {
    if (closed) throw new ConflictError('SERVING_BACKEND_CLOSED', 'the backend is closed');
  };
  const ensureModel = (request: GenerateRequest): void => {
    if (request.model !== name) {
      throw new NotFoundError('SERVING_UNKNOWN_MODEL', `unknown model ${request.model}`, { meta: { model: request.model, models: [name] } });
    }
  };

  const promptTokensOf = (request: GenerateRequest): { tokens: Token[]; stops: string[] } => {
    validateGenerateRequest(request);
    ensureModel(request);
    let tokens: Token[];
    let stops: string[] = [];
    if (request.messages !== undefined) {
      const rendered = renderChat(chatWrapper, request.messages);
      tokens = rendered.text.tokenize(model.tokenizer);
      stops = rendered.stops;
    } else {
      tokens = model.tokenize(request.prompt ?? '');
    }
    const bos = model.tokens.bos;
    if (model.tokens.shouldPrependBosToken && bos !== null && tokens[0] !== bos) tokens.unshift(bos);
    if (tokens.length === 0) {
      throw new InvalidInputError('SERVING_BAD_REQUEST', 'the prompt is empty', { meta: { model: name } });
    }
    if (tokens.length >= contextTokens) {
      throw new InvalidInputError('SERVING_CONTEXT_EXCEEDED', 'the prompt does not fit in the model context', {
        meta: { promptTokens: tokens.length, contextSize: contextTokens },
      });
    }
    return { tokens, stops };
  };

  /** Runs jobs one after another; a job whose signal aborts while it waits is dropped without running. */
  const serialise = <T>(signal: AbortSignal | undefined, job: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (signal?.aborted) {
        reject(generationAbortedError({ promptTokens: 0, completionTokens: 0, text: '' }));
        return;
      }
      let started = false;
      const onAbort = (): void => {
        if (!started) reject(generationAbortedError({ promptTokens: 0, completionTokens: 0, text: '' }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      tail = tail.then(async () => {
        signal?.removeEventListener('abort', onAbort);
        if (signal?.aborted) return;
        started = true;
        try {
          resolve(await job());
        } catch (error) {
          reject(error);
        }
      });
    });

  const run = async (request: GenerateRequest, prompt: Token[], stops: string[], options: GenerateOptions): Promise<GenerateResult> => {
    const { signal, onText } = options;
    const limit = Math.min(request.maxTokens, contextTokens - prompt.length);
    const allStops = [...(request.stop ?? []), ...stops];
    // A clean sequence per request: reusing a cached prefix would save prompt evaluation but lets the batch split of
    // an earlier request change the floats, and a fixed seed must give the same text every time.
    await sequence.clearHistory();

    const generated: Token[] = [];
    let completionTokens = 0;
    let finishReason: FinishReason = 'length';
    // Text of generated[0..anchor), a point where no character was split, so each step detokenizes only the tail.
    let anchor = 0;
    let anchorText = '';
    let full = '';
    let sent = '';
    const send = (upTo: number): void => {
      if (upTo <= sent.length) return;
      const delta = full.slice(sent.length, upTo);
      sent += delta;
      onText?.(delta);
    };

    const iterator = sequence.evaluate(prompt, {
      temperature: request.temperature ?? 1,
      ...(request.seed === undefined ? {} : { seed: request.seed >>> 0 }),
      yieldEogToken: true,
    });
    for await (const token of iterator) {
      // Every sampled token counts, end-of-generation and stop-string tokens included: the model computed them.
      completionTokens++;
      if (signal?.aborted) {
        throw generationAbortedError({ promptTokens: prompt.length, completionTokens, text: sent });
      }
      if (model.isEogToken(token)) {
        finishReason = 'stop';
        break;
      }
      generated.push(token);
      const piece = model.detokenize(generated.slice(anchor), false, generated.slice(Math.max(0, anchor - 4), anchor));
      full = anchorText + piece;
      if (!full.endsWith('\uFFFD')) {
        anchor = generated.length;
        anchorText = full;
      }
      const cut = cutStream(full, sent.length, allStops);
      if (cut.stopAt !== undefined) {
        full = full.slice(0, cut.stopAt);
        finishReason = 'stop';
        break;
      }
      send(cut.safeEnd);
      if (completionTokens >= limit) break;
    }
    // Streamed pieces are final: should the detokenizer ever rewrite text already sent, the sent text wins.
    if (full.startsWith(sent)) send(full.length);
    return { text: sent, promptTokens: prompt.length, completionTokens, finishReason };
  };

  return {
    get models() {
      return [name];
    },
    async countPromptTokens(request) {
      ensureOpen();
      return promptTokensOf(request).tokens.length;
    },
    contextSize(model) {
      ensureModel({ model, prompt: '', maxTokens: 1 });
      return contextTokens;
    },
    async generate(request, options = {}) {
      ensureOpen();
      const { tokens, stops } = promptTokensOf(request);
      return serialise(options.signal, () => {
        ensureOpen();
        return run(request, tokens, stops, options);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await tail;
      await context.dispose();
      await model.dispose();
      if (!deps.llama) await llama.dispose();
    },
  };
}

/**
 * Renders an OpenAI message list through the model's chat wrapper, ending with an open assistant turn (a trailing
 * assistant message is continued: node-llama-cpp merges adjacent model turns). Message text is never parsed for
 * special tokens, so a user cannot inject `</s>`. Text stop triggers of the wrapper become stop strings; triggers
 * made of special tokens end generation as end-of-generation tokens already.
 */
function renderChat(chatWrapper: ChatWrapper, messages: readonly ChatMessage[]): { text: ReturnType<ChatWrapper['generateContextState']>['contextText']; stops: string[] } {
  const chatHistory: ChatHistoryItem[] = messages.map((message): ChatHistoryItem => {
    if (message.role === 'system') return { type: 'system', text: message.content };
    if (message.role === 'user') return { type: 'user', text: message.content };
    return { type: 'model', response: [message.content] };
  });
  chatHistory.push({ type: 'model', response: [] });
  const state = chatWrapper.generateContextState({ chatHistory });
  const stops: string[] = [];
  for (const trigger of state.stopGenerationTriggers) {
    const parts: string[] = [];
    let textOnly = true;
    for (const value of trigger.values) {
      if (typeof value === 'string') parts.push(value);
      else textOnly = false;
    }
    const stop = parts.join('');
    if (textOnly && stop !== '') stops.push(stop);
  }
  return { text: state.contextText, stops };
}
