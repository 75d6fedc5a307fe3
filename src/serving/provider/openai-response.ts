/**
 * OpenAI response shapes (chat.completion, chat.completion.chunk, text_completion), the SSE
 * framing, and the one place errors become HTTP statuses and OpenAI-style error bodies.
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { Address, Hex } from 'viem';
import { LevityError, errorMessage } from '../../protocol/errors.ts';
import { httpStatusFor } from '../../shared/http.ts';
import type { ServingRequestKind } from './openai-request.ts';

export type FinishReason = 'stop' | 'length';

export type OpenAiUsage = { prompt_tokens: number; completion_tokens: number; total_tokens: number };

/** What a signed response carries besides the OpenAI fields; bigints as decimal strings. */
export type LevityResponseProof = { provider: Address; nonce: string; cost: string; spent: string; signature: Hex };

export type CompletionHead = { id: string; created: number; model: string };

const ID_BYTES = 12;
// Random bytes drawn 256 ids at a time: one randomBytes call costs several microseconds however small.
let idPool = Buffer.alloc(0);
let idOffset = 0;

function randomId(): string {
  if (idOffset + ID_BYTES > idPool.length) {
    idPool = randomBytes(ID_BYTES * 256);
    idOffset = 0;
  }
  idOffset += ID_BYTES;
  return idPool.toString('hex', idOffset - ID_BYTES, idOffset);
}

export function newCompletionHead(kind: ServingRequestKind, model: string, nowMs: number): CompletionHead {
  return { id: `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomId()}`, created: Math.floor(nowMs / 1000), model };
}

export function openAiUsage(promptTokens: number, completionTokens: number): OpenAiUsage {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

export function completionBody(
  kind: ServingRequestKind,
  head: CompletionHead,
  text: string,
  finishReason: FinishReason,
  usage: OpenAiUsage,
  levity: LevityResponseProof,
): Record<string, unknown> {
  const choice =
    kind === 'chat'
      ? { index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: finishReason }
      : { index: 0, text, logprobs: null, finish_reason: finishReason };
  return { ...head, object: kind === 'chat' ? 'chat.completion' : 'text_completion', choices: [choice], usage, levity };
}

/** A streamed piece: `delta` for chat (role on the first chunk), `text` for completions. */
export function completionChunk(
  kind: ServingRequestKind,
  head: CompletionHead,
  piece: { text?: string; role?: 'assistant'; finishReason?: FinishReason },
): Record<string, unknown> {
  const finish_reason = piece.finishReason ?? null;
  if (kind === 'chat') {
    const delta: Record<string, string> = {};
    if (piece.role) delta.role = piece.role;
    if (piece.text !== undefined) delta.content = piece.text;
    return { ...head, object: 'chat.completion.chunk', choices: [{ index: 0, delta, logprobs: null, finish_reason }] };
  }
  return { ...head, object: 'text_completion', choices: [{ index: 0, text: piece.text ?? '', logprobs: null, finish_reason }] };
}

/** The last chunk before [DONE], as OpenAI's `include_usage` sends it, with the signature added. */
export function usageChunk(kind: ServingRequestKind, head: CompletionHead, usage: OpenAiUsage, levity: LevityResponseProof): Record<string, unknown> {
  return { ...head, object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion', choices: [], usage, levity };
}

export const sseData = (value: unknown): string => `data: ${typeof value === 'string' ? value : JSON.stringify(value)}\n\n`;
export const SSE_DONE = sseData('[DONE]');

const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  SERVING_BAD_SIGNATURE: 401,
  SERVING_FEE_CAP_EXCEEDED: 402,
  SERVING_INSUFFICIENT_BALANCE: 402,
  SERVING_UNKNOWN_MODEL: 404,
  SERVING_NONCE_REPLAYED: 409,
  SERVING_BODY_TOO_LARGE: 413,
  SERVING_STOPPING: 503,
};

const TYPE_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'insufficient_funds',
  404: 'not_found_error',
  409: 'conflict_error',
  413: 'invalid_request_error',
  502: 'upstream_error',
  503: 'unavailable_error',
};

export type OpenAiError = { status: number; body: { error: { message: string; type: string; code: string; param: string | null; meta?: Readonly<Record<string, unknown>> } } };

/** The status and OpenAI-style body for anything thrown; internal failures never leak details. */
export function openAiError(error: unknown): OpenAiError {
  const status = error instanceof LevityError ? (STATUS_BY_CODE[error.code] ?? httpStatusFor(error)) : 500;
  const type = TYPE_BY_STATUS[status] ?? 'server_error';
  if (!(error instanceof LevityError)) {
    return { status, body: { error: { message: 'internal error', type, code: 'INTERNAL', param: null } } };
  }
  const param = typeof error.meta.param === 'string' ? error.meta.param : typeof error.meta.header === 'string' ? error.meta.header : null;
  const message = error.details ? `${error.shortMessage}: ${error.details}` : errorMessage(error);
  return { status, body: { error: { message, type, code: error.code, param, meta: error.meta } } };
}
