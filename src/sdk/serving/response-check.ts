/**
 * Checks what a provider says it served and charged: its signature over the response (see
 * src/protocol/serving/response-signature.ts), that it answers the receipt we sent, that the cost
 * is the advertised price of the usage it reports, and that it spent no more than we signed.
 */
import { getAddress, isAddressEqual, isHex } from 'viem';
import type { Address, Hex } from 'viem';
import { LevityError, UpstreamError, errorMessage } from '../../protocol/errors.ts';
import { usageCost } from '../../protocol/serving/billing.ts';
import type { TokenPrices } from '../../protocol/serving/billing.ts';
import { verifyResponse } from '../../protocol/serving/response-signature.ts';

export const ServingClientErrorCode = {
  badSignature: 'SERVING_BAD_RESPONSE_SIGNATURE',
  badResponse: 'SERVING_BAD_RESPONSE',
  badReply: 'SERVING_BAD_REPLY',
  unreachable: 'SERVING_UNREACHABLE',
  providerMismatch: 'SERVING_PROVIDER_MISMATCH',
  unknownModel: 'SERVING_UNKNOWN_MODEL',
  invalidRequest: 'SERVING_INVALID_REQUEST',
} as const;

/** The billing facts of one verified response. */
export type BilledResponse = {
  provider: Address;
  user: Address;
  nonce: bigint;
  /** The cap the request's receipt signed. */
  cumulative: bigint;
  id: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** Wei charged for this response. */
  cost: bigint;
  /** Wei spent with the provider in total, this response included. */
  spent: bigint;
  /** The provider's signature over the response. */
  signature: Hex;
  stream: boolean;
};

export type Expected = { provider: Address; user: Address; nonce: bigint; cumulative: bigint; prices: TokenPrices };

export type ServedFacts = { id: unknown; model: unknown; usage: unknown; content: string; levity: unknown; stream: boolean };

/** Checks a non-streaming response body; throws UpstreamError SERVING_BAD_RESPONSE(_SIGNATURE) when it does not hold. */
export async function checkResponse(raw: string, expected: Expected, _headers: Headers): Promise<BilledResponse> {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(raw) as Record<string, unknown>;
  } catch (cause) {
    throw bad(ServingClientErrorCode.badResponse, 'the provider answered no JSON', cause);
  }
  const choice = (Array.isArray(body.choices) ? body.choices[0] : undefined) as Record<string, unknown> | undefined;
  const message = choice?.message as { content?: unknown } | undefined;
  const content = typeof message?.content === 'string' ? message.content : typeof choice?.text === 'string' ? choice.text : '';
  return checkFacts({ id: body.id, model: body.model, usage: body.usage, content, levity: body.levity, stream: false }, expected);
}

/** The checks shared by streaming and non-streaming responses. */
export async function checkFacts(facts: ServedFacts, expected: Expected): Promise<BilledResponse> {
  const levity = facts.levity as Record<string, unknown> | undefined;
  if (!levity || typeof levity !== 'object') throw bad(ServingClientErrorCode.badSignature, 'the response carries no provider signature (no levity object)');
  const usage = (facts.usage ?? {}) as Record<string, unknown>;
  const promptTokens = tokens(usage.prompt_tokens, 'usage.prompt_tokens');
  const completionTokens = tokens(usage.completion_tokens, 'usage.completion_tokens');
  if (typeof facts.id !== 'string' || typeof facts.model !== 'string') throw bad(ServingClientErrorCode.badResponse, 'the response has no id or model');
  const signature = levity.signature;
  if (typeof signature !== 'string' || !isHex(signature)) throw bad(ServingClientErrorCode.badSignature, 'the levity object has no signature');
  let nonce: bigint;
  let cost: bigint;
  let spent: bigint;
  let signer: Address;
  try {
    nonce = parseUint(levity.nonce, 'levity.nonce');
    cost = parseUint(levity.cost, 'levity.cost');
    spent = parseUint(levity.spent, 'levity.spent');
    signer = getAddress(String(levity.provider));
  } catch (cause) {
    throw bad(ServingClientErrorCode.badResponse, `the levity object is malformed: ${errorMessage(cause)}`, cause);
  }
  if (!isAddressEqual(signer, expected.provider)) throw bad(ServingClientErrorCode.badSignature, `the response is signed for ${signer}, not ${expected.provider}`);
  if (nonce !== expected.nonce) throw bad(ServingClientErrorCode.badResponse, `the response answers nonce ${nonce}, not the ${expected.nonce} sent`);
  const ok = await verifyResponse(
    { provider: expected.provider, user: expected.user, nonce, id: facts.id, model: facts.model, promptTokens, completionTokens, cost, spentAfter: spent, content: facts.content },
    signature,
  );
  if (!ok) throw bad(ServingClientErrorCode.badSignature, `the provider's signature does not match the response`);
  // Signed, so provable; still refuse it, so a client never counts an overcharge as spent.
  const priced = usageCost(promptTokens, completionTokens, expected.prices);
  if (cost !== priced) throw bad(ServingClientErrorCode.badResponse, `charged ${cost} wei where the advertised prices give ${priced}`);
  if (spent > expected.cumulative) throw bad(ServingClientErrorCode.badResponse, `spent ${spent} wei is above the ${expected.cumulative} signed`);
  return {
    provider: expected.provider,
    user: expected.user,
    nonce,
    cumulative: expected.cumulative,
    id: facts.id,
    model: facts.model,
    promptTokens,
    completionTokens,
    cost,
    spent,
    signature,
    stream: facts.stream,
  };
}

/** A verified body, re-wrapped: the original was consumed by the check. */
export function signedJsonResponse(raw: string, original: Response): Response {
  const headers = new Headers(original.headers);
  // The text is already decoded: passing these on would make a client decode or truncate it again.
  headers.delete('content-encoding');
  headers.delete('content-length');
  return new Response(raw, { status: original.status, statusText: original.statusText, headers });
}

/**
 * A failed check as an OpenAI-style error response. Not thrown: the openai client retries a
 * failed fetch, and every retry is a new paid request; `x-should-retry: false` stops that too.
 */
export function unsignedError(error: unknown): Response {
  const levity = error instanceof LevityError ? error : bad(ServingClientErrorCode.badResponse, errorMessage(error), error);
  return new Response(JSON.stringify({ error: { message: levity.message, type: 'levity_error', code: levity.code, param: null } }), {
    status: 502,
    headers: { 'content-type': 'application/json', 'x-should-retry': 'false' },
  });
}

export function parseUint(value: unknown, field: string): bigint {
  if (typeof value === 'bigint' && value >= 0n) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === 'string' && /^(0|[1-9][0-9]{0,77})$/.test(value)) return BigInt(value);
  throw new UpstreamError(ServingClientErrorCode.badReply, `${field} is not a non-negative integer: ${JSON.stringify(String(value))}`);
}

function tokens(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw bad(ServingClientErrorCode.badResponse, `${field} is missing or not a token count`);
}

function bad(code: string, message: string, cause?: unknown): UpstreamError {
  return new UpstreamError(code, message, { cause });
}
