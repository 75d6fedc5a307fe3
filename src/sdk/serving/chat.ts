/**
 * One streamed, paid chat turn without an OpenAI client: the billing fetch signs and checks, this
 * reads the SSE deltas and hands them to `onDelta` as they come.
 */
import type { Address, LocalAccount } from 'viem';
import { InvalidInputError, UpstreamError } from '../../protocol/errors.ts';
import type { LevityError } from '../../protocol/errors.ts';
import { errorFromResponse } from '../http-error.ts';
import { billingFetch, receiptOf } from './billing-fetch.ts';
import type { BillingFetch, FetchLike } from './billing-fetch.ts';
import type { BilledResponse } from './response-check.ts';

export type ChatMessage = { role: 'system' | 'user' | 'assistant'; content: string };

export type ChatParameters = {
  /** The service's base URL (the API is at url + '/v1'). */
  url: string;
  /** Either the prompt of a one-turn chat or the whole conversation. */
  prompt?: string;
  messages?: ChatMessage[];
  /** Default: the provider's first model. */
  model?: string;
  maxTokens?: number;
  temperature?: number;
  onDelta?: (text: string) => void;
  signal?: AbortSignal;
} & (
  | { billing: BillingFetch }
  | { billing?: undefined; account: LocalAccount; chainId: number; ledger: Address; provider: Address; fetch?: FetchLike }
);

export type ChatReturnType = {
  text: string;
  finishReason: string | null;
  usage: { promptTokens: number; completionTokens: number };
  /** The verified billing facts: cost, spent, nonce, the provider's signature. */
  receipt: BilledResponse;
};

export async function chat(parameters: ChatParameters): Promise<ChatReturnType> {
  const messages = parameters.messages ?? (parameters.prompt === undefined ? undefined : [{ role: 'user' as const, content: parameters.prompt }]);
  if (!messages || messages.length === 0) throw new InvalidInputError('SERVING_INVALID_REQUEST', 'chat needs a prompt or messages');
  const billing =
    parameters.billing ??
    billingFetch({
      account: parameters.account,
      chainId: parameters.chainId,
      ledger: parameters.ledger,
      provider: parameters.provider,
      url: parameters.url,
      fetch: parameters.fetch,
    });
  const model = parameters.model ?? (await billing.prices()).model;
  const body: Record<string, unknown> = { model, messages, stream: true };
  if (parameters.maxTokens !== undefined) body.max_tokens = parameters.maxTokens;
  if (parameters.temperature !== undefined) body.temperature = parameters.temperature;

  const response = await billing(`${parameters.url.replace(/\/+$/, '')}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify(body),
    signal: parameters.signal,
  });
  if (!response.ok) throw await responseError(response);
  if (!response.body) throw new UpstreamError('SERVING_BAD_REPLY', 'the provider answered an empty stream');

  let text = '';
  let finishReason: string | null = null;
  let usage: { promptTokens: number; completionTokens: number } | undefined;
  const decoder = new TextDecoder();
  let buffer = '';
  const onEvent = (event: string): void => {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trim())
      .join('\n');
    if (data === '' || data === '[DONE]') return;
    const chunk = JSON.parse(data) as {
      error?: { code?: string; message?: string };
      choices?: Array<{ delta?: { content?: string }; finish_reason?: string | null }>;
      usage?: { prompt_tokens: number; completion_tokens: number };
      levity?: unknown;
    };
    if (chunk.error) throw new UpstreamError(chunk.error.code ?? 'SERVING_STREAM_FAILED', chunk.error.message ?? 'the provider failed mid-stream');
    for (const choice of chunk.choices ?? []) {
      const delta = choice.delta?.content;
      if (delta) {
        text += delta;
        parameters.onDelta?.(delta);
      }
      if (choice.finish_reason) finishReason = choice.finish_reason;
    }
    if (chunk.usage) usage = { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens };
  };
  // The billing fetch reports the verified facts; the stream only ends cleanly once they are.
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut = buffer.indexOf('\n\n');
    while (cut >= 0) {
      onEvent(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
      cut = buffer.indexOf('\n\n');
    }
  }
  if (buffer.trim() !== '') onEvent(buffer);
  const receipt = receiptOf(response);
  if (!receipt || !usage) {
    throw new UpstreamError('SERVING_BAD_RESPONSE_SIGNATURE', 'the stream ended without a verified provider signature');
  }
  return { text, finishReason, usage, receipt };
}

/** A provider's OpenAI-style error response as a typed error with the provider's code and meta. */
export function responseError(response: Response): Promise<LevityError> {
  return errorFromResponse({ who: 'provider', where: response.url, response, fallbackCode: 'SERVING_REQUEST_FAILED', meta: {} });
}
