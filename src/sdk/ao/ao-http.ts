/**
 * What the AO actions share: error codes, input checks and one fetch wrapper that turns every
 * way an MU, CU or gateway call can fail into a typed error. A unit's own `{error:{code,message}}`
 * body is carried over (its code and message), so a CLI user sees "no such process" with the
 * CU's code rather than a bare status.
 */
import { InvalidInputError, UpstreamError, errorMessage } from '../../protocol/errors.ts';
import { errorFromResponse } from '../http-error.ts';
import { isTxId } from '../../protocol/ans104/index.ts';
import type { Tag } from '../../protocol/ao/index.ts';

export const AoClientErrorCode = {
  invalidInput: 'AO_CLIENT_INVALID_INPUT',
  unreachable: 'AO_CLIENT_UNREACHABLE',
  timeout: 'AO_CLIENT_TIMEOUT',
  httpError: 'AO_CLIENT_HTTP_ERROR',
  badReply: 'AO_CLIENT_BAD_REPLY',
  walletNotFound: 'AO_CLIENT_WALLET_NOT_FOUND',
  walletInvalid: 'AO_CLIENT_WALLET_INVALID',
  walletExists: 'AO_CLIENT_WALLET_EXISTS',
} as const;
export type AoClientErrorCode = (typeof AoClientErrorCode)[keyof typeof AoClientErrorCode];

/** Which unit a request went to; it names the peer in every error. */
export type AoUnit = 'MU' | 'CU' | 'gateway';

const DEFAULT_TIMEOUT_MS = 30_000;

export function invalidInput(message: string, details?: string): InvalidInputError {
  return new InvalidInputError(AoClientErrorCode.invalidInput, message, details === undefined ? {} : { details });
}

/** Process, message and module ids are 43-char base64url; anything else would fail later and less clearly. */
export function assertId(what: string, value: unknown): asserts value is string {
  if (!isTxId(value)) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 64)) : typeof value;
    throw invalidInput(`${what} must be a 43-character base64url id`, `got ${shown}`);
  }
}

export function assertTags(tags: readonly Tag[] | undefined): readonly Tag[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags)) throw invalidInput('tags must be an array of {name, value}');
  for (const tag of tags) {
    if (typeof tag?.name !== 'string' || tag.name === '' || typeof tag.value !== 'string') {
      throw invalidInput('every tag needs a non-empty string name and a string value', `got ${JSON.stringify(tag)?.slice(0, 100)}`);
    }
  }
  return tags;
}

export function assertUrl(what: string, value: unknown): string {
  if (typeof value !== 'string' || !/^https?:\/\//.test(value)) throw invalidInput(`${what} must be an http(s) URL`, `got ${String(value)}`);
  // aoconnect concatenates paths, so a trailing slash would give `//result`; strip it here once.
  return value.replace(/\/+$/, '');
}

/** `data` as item bytes: aoconnect sends one space when there is none (an empty item body is refused). */
export function hasData(data: string | Uint8Array | undefined): data is string | Uint8Array {
  return data !== undefined && data.length > 0;
}

export type AoRequest = {
  unit: AoUnit;
  url: string;
  method?: 'GET' | 'POST' | 'DELETE';
  body?: Uint8Array | string;
  contentType?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
};

/** Performs the request and returns the 2xx response; every failure becomes a LevityError. */
export async function aoFetch(request: AoRequest): Promise<Response> {
  const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const signals = [AbortSignal.timeout(timeoutMs)];
  if (request.signal) signals.push(request.signal);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (request.contentType) headers['content-type'] = request.contentType;
  const where = `${request.method ?? 'GET'} ${request.url}`;
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: request.method ?? 'GET',
      headers,
      body: request.body as RequestInit['body'],
      signal: AbortSignal.any(signals),
    });
  } catch (cause) {
    if (request.signal?.aborted) throw cause;
    if (cause instanceof Error && cause.name === 'TimeoutError') {
      throw new UpstreamError(AoClientErrorCode.timeout, `the ${request.unit} did not answer within ${timeoutMs} ms`, {
        details: where,
        meta: { unit: request.unit, url: request.url, timeoutMs },
        cause,
      });
    }
    throw new UpstreamError(AoClientErrorCode.unreachable, `cannot reach the ${request.unit} at ${new URL(request.url).origin}`, {
      details: errorMessage(cause instanceof Error && cause.cause ? cause.cause : cause),
      meta: { unit: request.unit, url: request.url },
      cause,
    });
  }
  if (response.ok) return response;
  throw await errorFromResponse({ who: request.unit, where, response, fallbackCode: AoClientErrorCode.httpError, meta: { unit: request.unit } });
}


/** The body of a 2xx answer as JSON, or AO_CLIENT_BAD_REPLY. */
export async function jsonBody<T>(unit: AoUnit, response: Response): Promise<T> {
  const text = await response.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new UpstreamError(AoClientErrorCode.badReply, `the ${unit} answered ${response.status} with something that is not JSON`, {
      details: text.slice(0, 200),
      meta: { unit, status: response.status, url: response.url },
    });
  }
}
