/**
 * A `fetch` that pays: it signs a cumulative receipt for every completion request and checks the
 * provider's signature on every response, so any OpenAI-compatible client works unchanged:
 *   new OpenAI({ baseURL: url + '/v1', apiKey: 'levity', fetch: billingFetch({ ... }) })
 * The cap it signs is what it knows it has spent plus the request's worst case, so the provider can
 * never settle more than one request beyond what the user has seen signed responses for.
 */
import { getAddress } from 'viem';
import type { Address, LocalAccount } from 'viem';
import { InvalidInputError } from '../../protocol/errors.ts';
import { billingHeaders, worstCaseCost } from '../../protocol/serving/billing.ts';
import type { TokenPrices } from '../../protocol/serving/billing.ts';
import { signReceipt } from '../../protocol/serving/receipt.ts';
import { acquire, channelFor, fetchBilling, fetchModels, stateOf } from './billing-state.ts';
import type { BillingState, FetchLike, ModelPrices } from './billing-state.ts';
import { ServingClientErrorCode, checkResponse, signedJsonResponse, unsignedError } from './response-check.ts';
import type { BilledResponse } from './response-check.ts';
import { verifiedStream } from './verified-stream.ts';

export type { BillingState, FetchLike, ModelPrices } from './billing-state.ts';
export type { BilledResponse } from './response-check.ts';

export const DEFAULT_MAX_TOKENS = 128;
/** Bytes added to the prompt estimate for what the chat template wraps around the messages. */
const TEMPLATE_SLACK_BYTES = 64;
const PER_MESSAGE_SLACK_BYTES = 8;

export type BillingFetchParameters = {
  /** The user: signs receipts and pays. */
  account: LocalAccount;
  chainId: number;
  /** The ServingLedger contract receipts are for. */
  ledger: Address;
  /** The provider's address (receipts name it; its responses must be signed by it). */
  provider: Address;
  /** The service's base URL (the API is at url + '/v1'); learned from the first request when absent. */
  url?: string;
  fetch?: FetchLike;
  /** Called with every verified response's billing facts. */
  onReceipt?: (receipt: BilledResponse) => void;
  /** max_tokens set on requests that name none (default 128): it bounds the cap signed. */
  defaultMaxTokens?: number;
};

export type Quote = {
  model: string;
  prices: TokenPrices;
  maxTokens: number;
  /** Wei: the most the request can cost. */
  worstCase: bigint;
  /** Wei: the cumulative cap the request's receipt will authorise. */
  cumulative: bigint;
  nonce: bigint;
};

export type BillingFetch = FetchLike & {
  readonly user: Address;
  readonly provider: Address;
  /** What this client knows: spent, last nonce, settled (from the provider's signed responses and billing view). */
  state(): BillingState;
  /** Re-reads spent and nonce from the provider's `GET /v1/billing/:user`. */
  sync(): Promise<BillingState>;
  /** A model's prices (the provider's first model when none is named). */
  prices(model?: string): Promise<ModelPrices>;
  /** What a request body would sign, without sending it: for funding checks before a request. */
  quote(body: Record<string, unknown>): Promise<Quote>;
};

/** The verified billing facts of a response a billing fetch returned (a stream's once it has ended). */
export function receiptOf(response: Response): BilledResponse | undefined {
  return receipts.get(response);
}

const receipts = new WeakMap<Response, BilledResponse>();

const BILLED_PATHS = /\/(chat\/completions|completions)\/?$/;

export function billingFetch(parameters: BillingFetchParameters): BillingFetch {
  const inner: FetchLike = parameters.fetch ?? ((input, init) => fetch(input, init));
  const user = getAddress(parameters.account.address);
  const provider = getAddress(parameters.provider);
  const ledger = getAddress(parameters.ledger);
  const defaultMaxTokens = parameters.defaultMaxTokens ?? DEFAULT_MAX_TOKENS;
  const channel = channelFor(parameters.chainId, ledger, user, provider);
  let apiBase = parameters.url === undefined ? undefined : `${parameters.url.replace(/\/+$/, '')}/v1`;
  let synced = false;
  let models: Promise<ModelPrices[]> | undefined;

  const base = (): string => {
    if (apiBase === undefined) {
      throw new InvalidInputError(ServingClientErrorCode.invalidRequest, 'the provider URL is unknown: pass url, or make a request first');
    }
    return apiBase;
  };

  async function sync(): Promise<BillingState> {
    const view = await fetchBilling(inner, base(), user);
    // Never step back: a nonce the provider has not recorded yet (a request in flight) stays used.
    if (view.nonce > channel.nonce) channel.nonce = view.nonce;
    channel.spent = view.spent;
    channel.settled = view.settled;
    synced = true;
    return stateOf(channel);
  }

  async function prices(model?: string): Promise<ModelPrices> {
    models ??= fetchModels(inner, base(), provider).catch((error: unknown) => {
      models = undefined;
      throw error;
    });
    const list = await models;
    const found = model === undefined ? list[0] : list.find((m) => m.model === model);
    if (!found) {
      throw new InvalidInputError(ServingClientErrorCode.unknownModel, `the provider serves no model "${model ?? ''}"`, {
        meta: { model, models: list.map((m) => m.model) },
      });
    }
    return found;
  }

  async function quoteFor(body: Record<string, unknown>): Promise<Quote> {
    const estimate = estimateRequest(body, defaultMaxTokens);
    const priced = await prices(estimate.model);
    const worstCase = worstCaseCost(estimate.promptBytes, estimate.maxTokens * estimate.choices, priced);
    return {
      model: priced.model,
      prices: { inputPricePerToken: priced.inputPricePerToken, outputPricePerToken: priced.outputPricePerToken },
      maxTokens: estimate.maxTokens,
      worstCase,
      cumulative: channel.spent + worstCase,
      nonce: channel.nonce + 1n,
    };
  }

  async function billed(request: Request, signal: AbortSignal | undefined): Promise<Response> {
    const body = parseBody(await request.text());
    if (body.max_tokens === undefined && body.max_completion_tokens === undefined) body.max_tokens = defaultMaxTokens;
    const text = JSON.stringify(body);
    const stream = body.stream === true;
    const release = await acquire(channel);
    let handedOver = false;
    try {
      if (!synced) await sync();
      let attempt = 0;
      for (;;) {
        const quote = await quoteFor(body);
        const receipt = { user, provider, cumulativeAmount: quote.cumulative, nonce: quote.nonce };
        const signature = await signReceipt(parameters.account, { chainId: parameters.chainId, verifyingContract: ledger }, receipt);
        const headers = new Headers(request.headers);
        for (const [name, value] of Object.entries(billingHeaders({ user, nonce: quote.nonce, cumulative: quote.cumulative, signature }))) {
          headers.set(name, value);
        }
        headers.set('content-type', 'application/json');
        headers.delete('content-length');
        const response = await inner(request.url, { method: 'POST', headers, body: text, signal });
        // Skipped nonces are harmless; a reused one is refused, so count it used whatever came back.
        channel.nonce = quote.nonce;
        if (!response.ok) {
          const code = await errorCode(response.clone());
          const stale = code === 'SERVING_NONCE_REPLAYED' || code === 'SERVING_FEE_CAP_EXCEEDED';
          // Another client with this key (or a restart) moved the provider's view: catch up once.
          if (stale && attempt === 0) {
            attempt += 1;
            await response.body?.cancel().catch(() => undefined);
            await sync();
            continue;
          }
          return response;
        }
        const expected = { provider, user, nonce: quote.nonce, cumulative: quote.cumulative, prices: quote.prices };
        let verified: BilledResponse | undefined;
        const onVerified = (facts: BilledResponse): void => {
          verified = facts;
          if (facts.spent > channel.spent) channel.spent = facts.spent;
          parameters.onReceipt?.(facts);
        };
        if (stream && isEventStream(response)) {
          handedOver = true;
          const wrapped = verifiedStream(response, expected, {
            onVerified: (facts) => {
              onVerified(facts);
              receipts.set(wrapped, facts);
            },
            onDone: release,
          });
          return wrapped;
        }
        const raw = await response.text();
        try {
          onVerified(await checkResponse(raw, expected, response.headers));
        } catch (error) {
          return unsignedError(error);
        }
        const wrapped = signedJsonResponse(raw, response);
        if (verified) receipts.set(wrapped, verified);
        return wrapped;
      }
    } finally {
      if (!handedOver) release();
    }
  }

  const call = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    // Decide before building a Request: building one from a Request would use up the caller's body.
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    if (method !== 'POST' || !BILLED_PATHS.test(url.pathname)) return inner(input, init);
    apiBase ??= `${url.origin}${url.pathname.replace(BILLED_PATHS, '')}`;
    return billed(new Request(input, init), init?.signal ?? (input instanceof Request ? input.signal : undefined));
  };

  async function lockedSync(): Promise<BillingState> {
    const release = await acquire(channel);
    try {
      return await sync();
    } finally {
      release();
    }
  }

  return Object.assign(call, {
    user,
    provider,
    state: () => stateOf(channel),
    sync: lockedSync,
    prices,
    quote: async (body: Record<string, unknown>) => {
      if (!synced) await lockedSync();
      const copy = { ...body };
      if (copy.max_tokens === undefined && copy.max_completion_tokens === undefined) copy.max_tokens = defaultMaxTokens;
      return quoteFor(copy);
    },
  });
}

/** What the worst case of a request is computed from: UTF-8 bytes bound the token count from above. */
export function estimateRequest(
  body: Record<string, unknown>,
  defaultMaxTokens = DEFAULT_MAX_TOKENS,
): { model: string | undefined; promptBytes: number; maxTokens: number; choices: number } {
  const encoder = new TextEncoder();
  let bytes = TEMPLATE_SLACK_BYTES;
  const count = (value: unknown): void => {
    if (typeof value === 'string') bytes += encoder.encode(value).length;
    else if (Array.isArray(value)) value.forEach(count);
    else if (value && typeof value === 'object') {
      const part = value as Record<string, unknown>;
      // OpenAI content parts: only text parts reach a text model.
      if (typeof part.text === 'string') count(part.text);
      else if (part.type === undefined) Object.values(part).forEach(count);
    }
  };
  if (Array.isArray(body.messages)) {
    for (const message of body.messages) {
      if (!message || typeof message !== 'object') continue;
      const m = message as Record<string, unknown>;
      bytes += PER_MESSAGE_SLACK_BYTES;
      count(m.role);
      count(m.name);
      count(m.content);
    }
  }
  count(body.prompt);
  const max = body.max_completion_tokens ?? body.max_tokens ?? defaultMaxTokens;
  if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1) {
    throw new InvalidInputError(ServingClientErrorCode.invalidRequest, `max_tokens must be a positive integer, not ${JSON.stringify(max)}`);
  }
  const n = body.n ?? 1;
  const choices = typeof n === 'number' && Number.isSafeInteger(n) && n > 1 ? n : 1;
  return { model: typeof body.model === 'string' ? body.model : undefined, promptBytes: bytes, maxTokens: max, choices };
}

function parseBody(text: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (cause) {
    throw new InvalidInputError(ServingClientErrorCode.invalidRequest, 'the request body is not JSON', { cause });
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidInputError(ServingClientErrorCode.invalidRequest, 'the request body is not a JSON object');
  }
  return body as Record<string, unknown>;
}

function isEventStream(response: Response): boolean {
  return (response.headers.get('content-type') ?? '').includes('text/event-stream') && response.body !== null;
}

async function errorCode(response: Response): Promise<string | undefined> {
  try {
    const body = (await response.json()) as { error?: { code?: unknown } };
    return typeof body.error?.code === 'string' ? body.error.code : undefined;
  } catch {
    return undefined;
  }
}
