import { NotFoundError, UpstreamError, errorMessage } from '../../protocol/errors.ts';

const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * GETs JSON from another unit. A 404 becomes NotFoundError carrying the peer's own error, other
 * failures an UpstreamError naming the peer, so callers see which unit broke and why.
 */
export async function getJson<T>(url: string, what: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new UpstreamError('CU_UPSTREAM_UNREACHABLE', `cannot reach the ${what}`, { details: errorMessage(error), meta: { url } });
  }
  const text = await response.text();
  if (response.status === 404) {
    throw new NotFoundError('CU_NOT_FOUND', `the ${what} has no such record`, { details: text.slice(0, 300), meta: { url } });
  }
  if (!response.ok) {
    throw new UpstreamError('CU_UPSTREAM_FAILED', `the ${what} answered ${response.status}`, { details: text.slice(0, 300), meta: { url } });
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new UpstreamError('CU_UPSTREAM_BAD_JSON', `the ${what} answered something that is not JSON`, { meta: { url } });
  }
}

export async function getBytes(url: string, what: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new UpstreamError('CU_UPSTREAM_UNREACHABLE', `cannot reach the ${what}`, { details: errorMessage(error), meta: { url } });
  }
  if (response.status === 404) throw new NotFoundError('CU_NOT_FOUND', `the ${what} has no such record`, { meta: { url } });
  if (!response.ok) throw new UpstreamError('CU_UPSTREAM_FAILED', `the ${what} answered ${response.status}`, { meta: { url } });
  return new Uint8Array(await response.arrayBuffer());
}
