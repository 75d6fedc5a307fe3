/**
 * The paid endpoints (/v1/chat/completions, /v1/completions) without the HTTP framework: a request's
 * billing headers, body text and a client-gone signal in, a status, headers and a body (or a stream
 * written into a sink) out. Every paid request runs the billing checks before any work, holds its
 * worst case while it generates, is charged its real usage after, and is answered with the
 * provider's signature over what it generated and charged. serving-route.ts puts it on the node
 * server directly: these are the endpoints every billed request pays the broker's latency on.
 */
import type { Hex, LocalAccount } from 'viem';
import { InvalidInputError, LevityError, NotFoundError } from '../../protocol/errors.ts';
import { worstCaseCost } from '../../protocol/serving/billing.ts';
import type { HeaderSource, TokenPrices } from '../../protocol/serving/billing.ts';
import { RESPONSE_SIGNATURE_HEADER, signResponse } from '../../protocol/serving/response-signature.ts';
import type { ResponseMessage } from '../../protocol/serving/response-signature.ts';
import type { Logger } from '../../shared/log.ts';
import type { BillingGate, Reservation } from './billing-gate.ts';
import { isGenerationAborted } from '../backends/backend.ts';
import type { ChatBackend, GenerateRequest, GenerateResult } from '../backends/backend.ts';
import { generateRequest, parseServingRequest } from './openai-request.ts';
import type { ServingRequest, ServingRequestKind } from './openai-request.ts';
import { SSE_DONE, completionBody, completionChunk, newCompletionHead, openAiError, openAiUsage, sseData, usageChunk } from './openai-response.ts';
import type { CompletionHead, LevityResponseProof } from './openai-response.ts';

export const DEFAULT_MAX_TOKENS = 128;

export type ServingHandlerOptions = {
  log: Logger;
  account: LocalAccount;
  gate: BillingGate;
  /** Signs each response (response-signer.ts); defaults to the account's own signMessage. */
  signResponse?: (message: ResponseMessage) => Hex | Promise<Hex>;
  backend: ChatBackend;
  prices: TokenPrices;
  defaultMaxTokens: number;
  /** Work that must finish before the store closes: a served request is always charged. */
  track(work: Promise<unknown>): void;
  isStopping(): boolean;
  now?: () => number;
};

/** One request as the transport read it; `signal` aborts once the client is gone. */
export type ServingInput = { headers: HeaderSource; body: string; signal: AbortSignal };

/** Where a streamed answer goes; writes after the client left are dropped by the sink. */
export type ReplySink = { write(text: string): void; end(): void };

/** A whole body, or a stream the transport opens (after sending status and headers) by calling `stream`. */
export type ServingReply = { status: number; headers: Readonly<Record<string, string>> } & ({ body: string } | { stream(sink: ReplySink): void });

export type ServingHandler = { serve(kind: ServingRequestKind, input: ServingInput): Promise<ServingReply> };

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' } as const;
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' } as const;

/** JSON with bigints as decimal strings: a stray bigint in error metadata must not become a 500. */
export function jsonText(body: unknown): string {
  return JSON.stringify(body, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
}

/** An OpenAI-style error answer for anything thrown; 5xx are logged, never detailed to the client. */
export function errorReply(error: unknown, log: Logger): { status: number; headers: Readonly<Record<string, string>>; body: string } {
  const { status, body } = openAiError(error);
  if (status >= 500) log.error({ err: error }, 'serving request failed');
  return { status, headers: JSON_HEADERS, body: jsonText(body) };
}

/** The most tokens a request may generate: as asked (or the default), within what the context leaves. */
export function resolveMaxTokens(asked: number | undefined, fallback: number, promptTokens: number, contextSize: number | undefined): number {
  const wanted = asked ?? fallback;
  if (contextSize === undefined) return wanted;
  const room = contextSize - promptTokens;
  if (room <= 0) {
    throw new InvalidInputError('SERVING_PROMPT_TOO_LONG', `The prompt is ${promptTokens} tokens; the model's context holds ${contextSize}`, {
      meta: { param: 'messages', promptTokens, contextSize },
    });
  }
  return Math.min(wanted, room);
}

export function unknownModel(model: string, models: readonly string[]): NotFoundError {
  return new NotFoundError('SERVING_UNKNOWN_MODEL', `This provider does not serve model ${model}`, { meta: { param: 'model', model, models } });
}

type Job = { request: ServingRequest; generate: GenerateRequest; reservation: Reservation; head: CompletionHead };

export function createServingHandler(options: ServingHandlerOptions): ServingHandler {
  const { log, account, gate, backend, prices } = options;
  const now = options.now ?? Date.now;
  const provider = account.address;
  const sign = options.signResponse ?? ((message: ResponseMessage) => signResponse(account, message));

  async function serve(kind: ServingRequestKind, input: ServingInput): Promise<ServingReply> {
    try {
      if (options.isStopping()) throw new LevityError('SERVING_STOPPING', 'The provider is shutting down');
      const claim = await gate.authorise(input.headers);
      const request = parseServingRequest(kind, input.body);
      if (!backend.models.includes(request.model)) throw unknownModel(request.model, backend.models);
      // Priced with the exact request the backend will run (stop strings and all).
      const promptTokens = await backend.countPromptTokens(generateRequest(request, 1));
      const maxTokens = resolveMaxTokens(request.maxTokens, options.defaultMaxTokens, promptTokens, backend.contextSize(request.model));
      const reservation = await gate.reserve(claim, worstCaseCost(promptTokens, maxTokens, prices));
      const head = newCompletionHead(kind, request.model, now());
      const job: Job = { request, generate: generateRequest(request, maxTokens), reservation, head };
      return request.stream ? streamed(job, input.signal) : await whole(job, input.signal);
    } catch (error) {
      return errorReply(error, log);
    }
  }

  /**
   * Runs the backend. A generation that fails is not charged (its hold is released and the error
   * rethrown); one cut short because the client left is charged for the work done and delivered,
   * unless the provider itself cut it (stopping) or nothing was computed.
   */
  async function run(job: Job, signal: AbortSignal, onText?: (delta: string) => void): Promise<GenerateResult | undefined> {
    try {
      return await backend.generate(job.generate, { signal, ...(onText ? { onText } : {}) });
    } catch (error) {
      if (isGenerationAborted(error) && !options.isStopping()) {
        const promptTokens = Number(error.meta.promptTokens ?? 0);
        const completionTokens = Number(error.meta.completionTokens ?? 0);
        if (completionTokens > 0) {
          const { cost } = job.reservation.charge({ id: job.head.id, promptTokens, completionTokens });
          log.info({ id: job.head.id, promptTokens, completionTokens, cost: cost.toString() }, 'client left mid-generation: charged the work done');
          return undefined;
        }
      }
      job.reservation.release();
      throw error;
    }
  }

  /**
   * Charges a finished generation and signs it; `content` is exactly the text the client received.
   * The charge is durable once `durable` resolves: the disk sync runs while the response is signed
   * and built, and nothing of it may be released before.
   */
  async function settleJob(
    job: Job,
    result: GenerateResult,
    content: string,
  ): Promise<{ proof: LevityResponseProof; promptTokens: number; completionTokens: number; durable: Promise<void> }> {
    const { promptTokens, completionTokens } = result;
    const { cost, spentAfter, durable } = job.reservation.charge({ id: job.head.id, promptTokens, completionTokens });
    const { user, nonce } = job.reservation.claim;
    const signature = await sign({
      provider,
      user,
      nonce,
      id: job.head.id,
      model: job.head.model,
      promptTokens,
      completionTokens,
      cost,
      spentAfter,
      content,
    });
    if (log.isLevelEnabled('debug')) {
      log.debug({ id: job.head.id, user, nonce: nonce.toString(), promptTokens, completionTokens, cost: cost.toString() }, 'served');
    }
    return { proof: { provider, nonce: nonce.toString(), cost: cost.toString(), spent: spentAfter.toString(), signature }, promptTokens, completionTokens, durable };
  }

  async function whole(job: Job, clientGone: AbortSignal): Promise<ServingReply> {
    const work = (async (): Promise<ServingReply> => {
      const result = await run(job, clientGone);
      // The client is gone: nobody reads this answer.
      if (!result) return { status: 499, headers: {}, body: '' };
      const { proof, promptTokens, completionTokens, durable } = await settleJob(job, result, result.text);
      // Every value is a string or a number already: no bigint replacer needed.
      const body = JSON.stringify(completionBody(job.request.kind, job.head, result.text, result.finishReason, openAiUsage(promptTokens, completionTokens), proof));
      await durable;
      return { status: 200, headers: { ...JSON_HEADERS, [RESPONSE_SIGNATURE_HEADER]: proof.signature }, body };
    })();
    options.track(work);
    return work;
  }

  function streamed(job: Job, clientGone: AbortSignal): ServingReply {
    const { kind } = job.request;
    const stream = (sink: ReplySink) => {
      const abort = new AbortController();
      const onGone = () => abort.abort(clientGone.reason);
      if (clientGone.aborted) onGone();
      else clientGone.addEventListener('abort', onGone, { once: true });
      let sent = '';
      const piece = (text: string) => {
        if (text === '') return;
        sent += text;
        sink.write(sseData(completionChunk(kind, job.head, { text })));
      };
      if (kind === 'chat') sink.write(sseData(completionChunk(kind, job.head, { role: 'assistant', text: '' })));
      const work = (async () => {
        let result: GenerateResult | undefined;
        try {
          result = await run(job, abort.signal, piece);
        } catch (error) {
          const { body: errorBody, status } = openAiError(error);
          if (status >= 500) log.error({ err: error, id: job.head.id }, 'streamed generation failed');
          sink.write(sseData(jsonText(errorBody)));
          sink.end();
          return;
        } finally {
          clientGone.removeEventListener('abort', onGone);
        }
        if (!result) return sink.end();
        // Whatever the backend kept back from its deltas (a held stop-word prefix) still goes out,
        // so the deltas add up to the text that is signed.
        if (result.text.length > sent.length && result.text.startsWith(sent)) piece(result.text.slice(sent.length));
        try {
          const { proof, promptTokens, completionTokens, durable } = await settleJob(job, result, sent);
          await durable;
          sink.write(sseData(completionChunk(kind, job.head, { ...(kind === 'chat' ? {} : { text: '' }), finishReason: result.finishReason })));
          sink.write(sseData(usageChunk(kind, job.head, openAiUsage(promptTokens, completionTokens), proof)));
          sink.write(SSE_DONE);
        } catch (error) {
          log.error({ err: error, id: job.head.id }, 'charging a streamed response failed');
          sink.write(sseData(jsonText(openAiError(error).body)));
        }
        sink.end();
      })();
      options.track(work);
    };
    return { status: 200, headers: SSE_HEADERS, stream };
  }

  return { serve };
}
