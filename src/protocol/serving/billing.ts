/**
 * Billing on the wire: the headers a user attaches to every serving request (a signed cumulative
 * receipt, see receipt.ts) and the cost rules both sides apply. Prices are wei per token, input and
 * output separately; costs are exact bigint products, never floats.
 */
import { getAddress, isAddress } from 'viem';
import type { Address, Hex } from 'viem';
import { InvalidInputError } from '../errors.ts';
import type { Receipt } from './receipt.ts';

export const BILLING_HEADERS = {
  user: 'X-Levity-User',
  nonce: 'X-Levity-Nonce',
  cumulative: 'X-Levity-Cumulative',
  signature: 'X-Levity-Signature',
} as const;

/** What a request's billing headers claim: the receipt (less its provider, which is the server's) and its signature. */
export type BillingClaim = {
  user: Address;
  nonce: bigint;
  /** Wei: the cumulative cap this receipt authorises. */
  cumulative: bigint;
  /** 0x, 65 bytes: the user's EIP-712 signature of the receipt. */
  signature: Hex;
};

/** A service's prices, named as in the ServiceRegistry. */
export type TokenPrices = {
  inputPricePerToken: bigint;
  outputPricePerToken: bigint;
};

/** Web `Headers`, or a plain object such as Node's IncomingHttpHeaders (any key case). */
export type HeaderSource = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

const UINT256_MAX = 2n ** 256n - 1n;
// At most 78 digits (2^256 has 78), no sign, no leading zeros: one spelling per number, so a
// header cannot be re-encoded into a "different" claim.
const DECIMAL = /^(0|[1-9][0-9]{0,77})$/;
const SIGNATURE = /^0x[0-9a-fA-F]{130}$/;

export function billingHeaders(claim: BillingClaim): Record<string, string> {
  return {
    [BILLING_HEADERS.user]: claim.user,
    [BILLING_HEADERS.nonce]: claim.nonce.toString(),
    [BILLING_HEADERS.cumulative]: claim.cumulative.toString(),
    [BILLING_HEADERS.signature]: claim.signature,
  };
}

/**
 * Reads a request's billing claim. Throws InvalidInputError SERVING_BILLING_MISSING when a header is
 * absent (meta.missing lists them) and SERVING_BILLING_MALFORMED when one is not well-formed
 * (meta.header names it). Checks form only: the signature is verified by the caller.
 */
export function parseBillingHeaders(headers: HeaderSource): BillingClaim {
  const raw = {
    user: readHeader(headers, BILLING_HEADERS.user),
    nonce: readHeader(headers, BILLING_HEADERS.nonce),
    cumulative: readHeader(headers, BILLING_HEADERS.cumulative),
    signature: readHeader(headers, BILLING_HEADERS.signature),
  };
  const missing = (Object.keys(raw) as (keyof typeof raw)[]).filter((k) => raw[k] === undefined).map((k) => BILLING_HEADERS[k]);
  if (missing.length > 0) {
    throw new InvalidInputError('SERVING_BILLING_MISSING', `Missing billing header${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, {
      meta: { missing },
    });
  }
  const user = raw.user!.trim();
  if (!isAddress(user)) throw malformed(BILLING_HEADERS.user, 'not a 20-byte hex address (or a bad checksum)');
  const signature = raw.signature!.trim();
  if (!SIGNATURE.test(signature)) throw malformed(BILLING_HEADERS.signature, 'not 0x followed by 65 bytes of hex');
  return {
    user: getAddress(user),
    nonce: parseUint256(raw.nonce!, BILLING_HEADERS.nonce),
    cumulative: parseUint256(raw.cumulative!, BILLING_HEADERS.cumulative),
    signature: signature as Hex,
  };
}

/** The receipt a claim's signature covers, once the serving provider is known. */
export function claimReceipt(claim: BillingClaim, provider: Address): Receipt {
  return { user: claim.user, provider, cumulativeAmount: claim.cumulative, nonce: claim.nonce };
}

/** The most a request can cost: every prompt token, plus every token it may generate. */
export function worstCaseCost(promptTokens: number | bigint, maxTokens: number | bigint, prices: TokenPrices): bigint {
  return tokenCount(promptTokens, 'promptTokens') * prices.inputPricePerToken + tokenCount(maxTokens, 'maxTokens') * prices.outputPricePerToken;
}

/** What a served request costs, from its real token counts. */
export function usageCost(promptTokens: number | bigint, completionTokens: number | bigint, prices: TokenPrices): bigint {
  return (
    tokenCount(promptTokens, 'promptTokens') * prices.inputPricePerToken +
    tokenCount(completionTokens, 'completionTokens') * prices.outputPricePerToken
  );
}

function readHeader(headers: HeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== lower || value === undefined) continue;
    if (typeof value === 'string') return value;
    // A repeated header is ambiguous: which receipt did the user mean?
    if (value.length === 1) return value[0];
    throw malformed(name, `sent ${value.length} times`);
  }
  return undefined;
}

function parseUint256(text: string, header: string): bigint {
  const trimmed = text.trim();
  if (!DECIMAL.test(trimmed)) throw malformed(header, 'not a decimal integer without sign or leading zeros');
  const value = BigInt(trimmed);
  if (value > UINT256_MAX) throw malformed(header, 'larger than a uint256');
  return value;
}

function tokenCount(value: number | bigint, field: string): bigint {
  if (typeof value === 'bigint' ? value < 0n : !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidInputError('SERVING_TOKENS_INVALID', `${field} must be a non-negative integer`, { meta: { field, value: String(value) } });
  }
  return BigInt(value);
}

function malformed(header: string, details: string): InvalidInputError {
  return new InvalidInputError('SERVING_BILLING_MALFORMED', `Malformed billing header ${header}`, { details, meta: { header } });
}
