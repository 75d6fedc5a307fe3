/**
 * What a user's client knows about its account with one provider (spent, last nonce), shared by
 * every billing fetch in the process for the same (chain, ledger, user, provider), with a lock so
 * that requests to a provider go one at a time: two in flight could sign the same nonce, or caps
 * that each leave out the other's cost.
 */
import { getAddress, isAddressEqual } from 'viem';
import type { Address } from 'viem';
import { UpstreamError, errorMessage } from '../../protocol/errors.ts';
import type { TokenPrices } from '../../protocol/serving/billing.ts';
import { ServingClientErrorCode, parseUint } from './response-check.ts';

export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export type BillingState = {
  /** Wei spent with the provider, as its latest signed response (or billing view) says. */
  spent: bigint;
  /** The last nonce used; the next request signs nonce + 1. */
  nonce: bigint;
  /** Wei the ledger has paid the provider, as the provider last reported. */
  settled: bigint;
};

export type ModelPrices = TokenPrices & { model: string };

export type BillingChannel = BillingState & { tail: Promise<void> };

const channels = new Map<string, BillingChannel>();

export function channelFor(chainId: number, ledger: Address, user: Address, provider: Address): BillingChannel {
  const key = `${chainId}:${ledger}:${user}:${provider}`.toLowerCase();
  let channel = channels.get(key);
  if (!channel) {
    channel = { spent: 0n, nonce: 0n, settled: 0n, tail: Promise.resolve() };
    channels.set(key, channel);
  }
  return channel;
}

export function stateOf(channel: BillingChannel): BillingState {
  return { spent: channel.spent, nonce: channel.nonce, settled: channel.settled };
}

/** Waits for the requests before this one; the returned function lets the next one go (idempotent). */
export async function acquire(channel: BillingChannel): Promise<() => void> {
  let release!: () => void;
  const done = new Promise<void>((resolve) => {
    release = resolve;
  });
  const before = channel.tail;
  channel.tail = before.then(() => done);
  await before;
  return release;
}

/** The provider's billing view of the user: `GET /v1/billing/:user`. */
export async function fetchBilling(fetcher: FetchLike, apiBase: string, user: Address): Promise<BillingState> {
  const body = await getJson(fetcher, `${apiBase}/billing/${user}`);
  const record = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  try {
    return {
      spent: parseUint(record.spent ?? '0', 'spent'),
      nonce: parseUint(record.lastNonce ?? record.nonce ?? '0', 'lastNonce'),
      settled: parseUint(record.settled ?? '0', 'settled'),
    };
  } catch (cause) {
    throw new UpstreamError(ServingClientErrorCode.badReply, `the provider's billing view is malformed`, { cause, details: errorMessage(cause) });
  }
}

/** Every model the provider serves with its prices, from the `levity` object of `GET /v1/models`. */
export async function fetchModels(fetcher: FetchLike, apiBase: string, provider: Address): Promise<ModelPrices[]> {
  const body = await getJson(fetcher, `${apiBase}/models`);
  const data = body && typeof body === 'object' && Array.isArray((body as { data?: unknown }).data) ? (body as { data: unknown[] }).data : undefined;
  if (!data) throw new UpstreamError(ServingClientErrorCode.badReply, `${apiBase}/models answered no model list`);
  const models: ModelPrices[] = [];
  for (const entry of data) {
    const item = (entry ?? {}) as { id?: unknown; levity?: Record<string, unknown> };
    if (typeof item.id !== 'string' || !item.levity) continue;
    const signer = item.levity.provider;
    if (typeof signer !== 'string' || !isAddressEqual(getAddress(signer), provider)) {
      throw new UpstreamError(ServingClientErrorCode.providerMismatch, `${apiBase} serves as ${String(signer)}, not as ${provider}`, {
        meta: { expected: provider, actual: String(signer) },
      });
    }
    models.push({
      model: item.id,
      inputPricePerToken: parseUint(item.levity.inputPricePerToken, 'inputPricePerToken'),
      outputPricePerToken: parseUint(item.levity.outputPricePerToken, 'outputPricePerToken'),
    });
  }
  if (models.length === 0) throw new UpstreamError(ServingClientErrorCode.badReply, `${apiBase}/models lists no priced model`);
  return models;
}

async function getJson(fetcher: FetchLike, url: string): Promise<unknown> {
  let response: Response;
  try {
    response = await fetcher(url, { headers: { accept: 'application/json' } });
  } catch (cause) {
    throw new UpstreamError(ServingClientErrorCode.unreachable, `cannot reach ${url}`, { cause, details: errorMessage(cause) });
  }
  const text = await response.text();
  if (!response.ok) {
    throw new UpstreamError(ServingClientErrorCode.badReply, `${url} answered ${response.status}`, { details: text.slice(0, 300), meta: { status: response.status } });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new UpstreamError(ServingClientErrorCode.badReply, `${url} answered no JSON`, { cause });
  }
}
