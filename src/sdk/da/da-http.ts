/**
 * What the DA actions share: error codes, input checks and one fetch wrapper that turns every
 * way a DA node or aggregator call can fail into a typed error. A peer's own
 * `{error:{code,message}}` body is carried over, so a user sees the node's `DA_UNKNOWN_ROOT`
 * rather than a bare 404. The fetch is injectable: tests inject network faults through it.
 */
import type { Hex } from 'viem';
import { InvalidInputError, LevityError, UpstreamError, errorMessage } from '../../protocol/errors.ts';
import { errorFromResponse } from '../http-error.ts';

export const DaClientErrorCode = {
  invalidInput: 'DA_INVALID_INPUT',
  unreachable: 'DA_UNREACHABLE',
  timeout: 'DA_TIMEOUT',
  httpError: 'DA_HTTP_ERROR',
  badReply: 'DA_BAD_REPLY',
  notCertified: 'DA_NOT_CERTIFIED',
  headerUnavailable: 'DA_HEADER_UNAVAILABLE',
  headerMismatch: 'DA_HEADER_MISMATCH',
  unrecoverable: 'DA_UNRECOVERABLE',
  noCommittee: 'DA_NO_COMMITTEE',
  chainError: 'DA_CHAIN_ERROR',
  blobFailed: 'DA_BLOB_FAILED',
  waitTimeout: 'DA_WAIT_TIMEOUT',
  outputExists: 'DA_OUTPUT_EXISTS',
} as const;
export type DaClientErrorCode = (typeof DaClientErrorCode)[keyof typeof DaClientErrorCode];

/** The fetch the actions use; inject one to add faults, proxies or tracing. */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** Which kind of peer a request went to; it names the peer in every error. */
export type DaPeer = 'DA node' | 'aggregator';

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export const ROOT_PATTERN = /^0x[0-9a-fA-F]{64}$/;

export function invalidInput(message: string, details?: string): InvalidInputError {
  return new InvalidInputError(DaClientErrorCode.invalidInput, message, details === undefined ? {} : { details });
}

export function assertRoot(root: unknown): asserts root is Hex {
  if (typeof root !== 'string' || !ROOT_PATTERN.test(root)) {
    throw invalidInput('a data root is 0x and 64 hex digits', `got ${JSON.stringify(String(root).slice(0, 80))}`);
  }
}

export function assertUrl(what: string, value: unknown): string {
  if (typeof value !== 'string' || !/^https?:\/\/[^/]/.test(value)) throw invalidInput(`${what} must be an http(s) URL`, `got ${String(value)}`);
  return value.replace(/\/+$/, '');
}

export type DaRequest = {
  peer: DaPeer;
  url: string;
  method?: 'GET' | 'POST';
  body?: RequestInit['body'];
  contentType?: string;
  /** Sent with a streamed body, so the peer can refuse an oversized one before reading it. */
  contentLength?: number;
  accept?: string;
  timeoutMs?: number;
  fetch?: FetchLike;
};

/** Performs the request and returns the 2xx response; every failure becomes a LevityError. */
export async function daFetch(request: DaRequest): Promise<Response> {
  const timeoutMs = request.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const headers: Record<string, string> = { accept: request.accept ?? 'application/json' };
  if (request.contentType) headers['content-type'] = request.contentType;
  if (request.contentLength !== undefined) headers['content-length'] = String(request.contentLength);
  const method = request.method ?? 'GET';
  const where = `${method} ${request.url}`;
  const streamed = request.body instanceof ReadableStream;
  const cancel = new AbortController();
  const init: RequestInit & { duplex?: 'half' } = { method, headers, body: request.body, signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), cancel.signal]) };
  // A streamed body must say so, or undici refuses it.
  if (streamed) init.duplex = 'half';
  let response: Response;
  try {
    response = await (request.fetch ?? fetch)(request.url, init);
  } catch (cause) {
    // A pooled keep-alive socket the peer already closed fails at once with a reset; a GET is
    // safe to send again, on a fresh connection.
    if (method !== 'GET' || !isStaleSocket(cause) || init.signal?.aborted) throw transportError(request, where, timeoutMs, cause);
    try {
      response = await (request.fetch ?? fetch)(request.url, init);
    } catch (again) {
      throw transportError(request, where, timeoutMs, again);
    }
  }
  if (response.ok) return response;
  const error = await errorFromResponse({ who: request.peer, where, response, fallbackCode: DaClientErrorCode.httpError, meta: { peer: request.peer } });
  // A peer that refuses a streamed upload early (413) leaves the body half sent; aborting drops
  // that connection, or the pool would hand it to the next request, which then gets a reset.
  if (streamed) cancel.abort();
  throw error;
}

/** A body read that fails half way (a reset socket, the timeout) as a typed error too. */
export async function readBody<T>(request: DaRequest, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (cause) {
    if (cause instanceof LevityError) throw cause;
    throw transportError(request, `${request.method ?? 'GET'} ${request.url}`, request.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, cause);
  }
}

function isStaleSocket(error: unknown): boolean {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return cause?.code === 'ECONNRESET' || cause?.code === 'UND_ERR_SOCKET' || cause?.code === 'EPIPE';
}

function transportError(request: DaRequest, where: string, timeoutMs: number, cause: unknown): UpstreamError {
  const origin = safeOrigin(request.url);
  if (cause instanceof Error && (cause.name === 'TimeoutError' || cause.name === 'AbortError')) {
    return new UpstreamError(DaClientErrorCode.timeout, `the ${request.peer} at ${origin} did not answer within ${timeoutMs} ms`, {
      details: where,
      meta: { peer: request.peer, url: request.url, timeoutMs },
      cause,
    });
  }
  return new UpstreamError(DaClientErrorCode.unreachable, `cannot reach the ${request.peer} at ${origin}`, {
    details: errorMessage(cause instanceof Error && cause.cause ? cause.cause : cause),
    meta: { peer: request.peer, url: request.url },
    cause,
  });
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}


/** The body of a 2xx answer as JSON, or DA_BAD_REPLY. */
export async function jsonBody(request: DaRequest, response: Response): Promise<unknown> {
  const text = await readBody(request, () => response.text());
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badReply(request, `answered ${response.status} with something that is not JSON`, text.slice(0, 200));
  }
}

export function badReply(request: DaRequest, what: string, details?: string): UpstreamError {
  return new UpstreamError(DaClientErrorCode.badReply, `the ${request.peer} at ${safeOrigin(request.url)} ${what}`, {
    ...(details === undefined ? {} : { details }),
    meta: { peer: request.peer, url: request.url },
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `work(i)` for i in [0, count) with at most `limit` at once; `work` must not throw
 * (each caller records its own failures, since one bad node must not stop the others).
 */
export async function forEachLimited(count: number, limit: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, count)) }, lane));
}
