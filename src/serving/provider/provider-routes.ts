/**
 * The provider's OpenAI-compatible routes. Every paid request runs the billing checks before any
 * work, holds its worst case while it generates, is charged its real usage after, and is answered
 * with the provider's signature over what it generated and charged.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getAddress, isAddress } from 'viem';
import type { Hex, LocalAccount } from 'viem';
import { InvalidInputError, LevityError, NotFoundError } from '../../protocol/errors.ts';
import { worstCaseCost } from '../../protocol/serving/billing.ts';
import type { TokenPrices } from '../../protocol/serving/billing.ts';
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
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

export type ProviderRoutesOptions = {
  app: Hono;
  log: Logger;
  account: LocalAccount;
  gate: BillingGate;
  /** Signs each response (response-signer.ts); defaults to the account's own signMessage. */
  signResponse?: (message: ResponseMessage) => Hex | Promise<Hex>;
  backend: ChatBackend;
  prices: TokenPrices;
  defaultMaxTokens: number;
  maxBodyBytes?: number;
  /** Work that must finish before the store closes: a served request is always charged. */
  track(work: Promise<unknown>): void;
  isStopping(): boolean;
  now?: () => number;
};

/** JSON with bigints as decimal strings: a stray bigint in error metadata must not become a 500. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const text = JSON.stringify(body, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  return new Response(text, { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } });
}

export function errorJson(error: unknown, log: Logger): Response {
  const { status, body } = openAiError(error);
  if (status >= 500) log.error({ err: error }, 'serving request failed');
  return jsonResponse(status, body);
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

export function addProviderRoutes(options: ProviderRoutesOptions): void {
  const { app, log, account, gate, backend, prices } = options;
  const now = options.now ?? Date.now;
  const provider = account.address;
  const sign = options.signResponse ?? ((message: ResponseMessage) => signResponse(account, message));
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const limit = bodyLimit({
    maxSize: maxBodyBytes,
    onError: () =>
      errorJson(new LevityError('SERVING_BODY_TOO_LARGE', `The request body is over ${maxBodyBytes} bytes`, { meta: { maxBytes: maxBodyBytes } }), log),
  });
  const created = Math.floor(now() / 1000);
  const modelEntry = (id: string) => ({
    id,
    object: 'model',
    created,
    owned_by: provider,
    levity: { provider, inputPricePerToken: prices.inputPricePerToken.toString(), outputPricePerToken: prices.outputPricePerToken.toString() },
  });

  app.get('/v1/models', () => jsonResponse(200, { object: 'list', data: backend.models.map(modelEntry) }));
  app.get('/v1/models/:id', (c) => {
    const id = c.req.param('id');
    if (!backend.models.includes(id)) return errorJson(unknownModel(id, backend.models), log);
    return jsonResponse(200, modelEntry(id));
  });
  app.get('/v1/billing/:user', (c) => {
    const raw = c.req.param('user');
    if (!isAddress(raw)) return errorJson(new InvalidInputError('SERVING_BAD_ADDRESS', `${raw} is not an address`, { meta: { param: 'user' } }), log);
    const billing = gate.snapshot(getAddress(raw));
    return jsonResponse(200, {
      user: billing.user,
      provider,
      lastNonce: billing.lastNonce?.toString() ?? null,
      nextNonce: billing.lastNonce === undefined ? '0' : (billing.lastNonce + 1n).toString(),
      cumulative: billing.receipt?.cumulativeAmount.toString() ?? '0',
      spent: billing.spent.toString(),
      settled: billing.settled.toString(),
      inFlight: billing.reserved.toString(),
    });
  });
  app.post('/v1/chat/completions', limit, (c) => serve(c, 'chat'));
  app.post('/v1/completions', limit, (c) => serve(c, 'completion'));

  async function serve(c: Context, kind: ServingRequestKind): Promise<Response> {
    try {
      if (options.isStopping()) throw new LevityError('SERVING_STOPPING', 'The provider is shutting down');
      const claim = await gate.authorise(c.req.raw.headers);
      const request = parseServingRequest(kind, await c.req.text());
      if (!backend.models.includes(request.model)) throw unknownModel(request.model, backend.models);
      // Priced with the exact request the backend will run (stop strings and all).
      const promptTokens = await backend.countPromptTokens(generateRequest(request, 1));
      const maxTokens = resolveMaxTokens(request.maxTokens, options.defaultMaxTokens, promptTokens, backend.contextSize(request.model));
      const reservation = await gate.reserve(claim, worstCaseCost(promptTokens, maxTokens, prices));
      const head = newCompletionHead(kind, request.model, now());
      const job: Job = { request, generate: generateRequest(request, maxTokens), reservation, head };
      return request.stream ? streamed(job, c.req.raw.signal) : await whole(job, c.req.raw.signal);
    } catch (error) {
      return errorJson(error, log);
    }
  }

  type Job = { request: ServingRequest; generate: GenerateRequest; reservation: Reservation; head: CompletionHead };

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
    log.debug({ id: job.head.id, user, nonce: nonce.toString(), promptTokens, completionTokens, cost: cost.toString() }, 'served');
    return { proof: { provider, nonce: nonce.toString(), cost: cost.toString(), spent: spentAfter.toString(), signature }, promptTokens, completionTokens, durable };
  }

  async function whole(job: Job, clientGone: AbortSignal): Promise<Response> {
    const work = (async () => {
      const result = await run(job, clientGone);
      // The client is gone: nobody reads this answer.
      if (!result) return new Response(null, { status: 499 });
      const { proof, promptTokens, completionTokens, durable } = await settleJob(job, result, result.text);
      const body = completionBody(job.request.kind, job.head, result.text, result.finishReason, openAiUsage(promptTokens, completionTokens), proof);
      const response = jsonResponse(200, body, { [RESPONSE_SIGNATURE_HEADER]: proof.signature });
      await durable;
      return response;
    })();
    options.track(work);
    return work;
  }

  function streamed(job: Job, clientGone: AbortSignal): Response {
    const { kind } = job.request;
    const encoder = new TextEncoder();
    const abort = new AbortController();
    const onGone = () => abort.abort(clientGone.reason);
    clientGone.addEventListener('abort', onGone, { once: true });
    let open = true;
    const body = new ReadableStream<Uint8Array>({
      start(out) {
        const send = (text: string) => {
          if (!open) return;
          try {
            out.enqueue(encoder.encode(text));
          } catch {
            open = false;
          }
        };
        const end = () => {
          if (!open) return;
          open = false;
          try {
            out.close();
          } catch {
            // Already cancelled by the client.
          }
        };
        let sent = '';
        const piece = (text: string) => {
          if (text === '') return;
          sent += text;
          send(sseData(completionChunk(kind, job.head, { text })));
        };
        if (kind === 'chat') send(sseData(completionChunk(kind, job.head, { role: 'assistant', text: '' })));
        const work = (async () => {
          let result: GenerateResult | undefined;
          try {
            result = await run(job, abort.signal, piece);
          } catch (error) {
            const { body: errorBody, status } = openAiError(error);
            if (status >= 500) log.error({ err: error, id: job.head.id }, 'streamed generation failed');
            send(sseData(errorBody));
            end();
            return;
          } finally {
            clientGone.removeEventListener('abort', onGone);
          }
          if (!result) return end();
          // Whatever the backend kept back from its deltas (a held stop-word prefix) still goes out,
          // so the deltas add up to the text that is signed.
          if (result.text.length > sent.length && result.text.startsWith(sent)) piece(result.text.slice(sent.length));
          try {
            const { proof, promptTokens, completionTokens, durable } = await settleJob(job, result, sent);
            await durable;
            send(sseData(completionChunk(kind, job.head, { ...(kind === 'chat' ? {} : { text: '' }), finishReason: result.finishReason })));
            send(sseData(usageChunk(kind, job.head, openAiUsage(promptTokens, completionTokens), proof)));
            send(SSE_DONE);
          } catch (error) {
            log.error({ err: error, id: job.head.id }, 'charging a streamed response failed');
            send(sseData(openAiError(error).body));
          }
          end();
        })();
        options.track(work);
      },
      cancel() {
        open = false;
        abort.abort(new Error('client closed the stream'));
      },
    });
    return new Response(body, {
      status: 200,
      headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' },
    });
  }
}

function unknownModel(model: string, models: readonly string[]): NotFoundError {
  return new NotFoundError('SERVING_UNKNOWN_MODEL', `This provider does not serve model ${model}`, { meta: { param: 'model', model, models } });
}
