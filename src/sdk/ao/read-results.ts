import { UpstreamError } from '../../protocol/errors.ts';
import { AoClientErrorCode, aoFetch, assertId, assertUrl, invalidInput, jsonBody } from './ao-http.ts';
import { toAoResult } from './read-result.ts';
import type { AoResult } from './read-result.ts';

export type ReadResultsParameters = {
  /** CU base URL. */
  cu: string;
  process: string;
  /** A cursor from an earlier page (exclusive), or a timestamp in ms. */
  from?: string;
  to?: string;
  sort?: 'ASC' | 'DESC';
  /** Defaults to the CU's own (25). */
  limit?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
};

export type ResultEdge = { cursor: string; node: AoResult };
export type ReadResultsReturnType = { edges: ResultEdge[]; hasNextPage: boolean };

/**
 * A page of a process's stored results in schedule order. The CU evaluates nothing new for this
 * and leaves out evaluations that failed (their effects were rolled back).
 */
export async function readResults(parameters: ReadResultsParameters): Promise<ReadResultsReturnType> {
  const cu = assertUrl('cu', parameters.cu);
  assertId('process', parameters.process);
  const sort = parameters.sort ?? 'ASC';
  if (sort !== 'ASC' && sort !== 'DESC') throw invalidInput('sort must be ASC or DESC', `got ${String(sort)}`);
  const limit = parameters.limit;
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) throw invalidInput('limit must be a whole number ≥ 1', `got ${limit}`);
  // aoconnect's order: from, to, sort (always), limit.
  const query = new URLSearchParams();
  if (parameters.from) query.set('from', parameters.from);
  if (parameters.to) query.set('to', parameters.to);
  query.set('sort', sort);
  if (limit !== undefined) query.set('limit', String(limit));
  const response = await aoFetch({
    unit: 'CU',
    url: `${cu}/results/${parameters.process}?${query}`,
    timeoutMs: parameters.timeoutMs,
    signal: parameters.signal,
  });
  const body = await jsonBody<{ edges?: unknown; pageInfo?: { hasNextPage?: unknown } }>('CU', response);
  if (!body || !Array.isArray(body.edges)) {
    throw new UpstreamError(AoClientErrorCode.badReply, 'the CU answered /results without edges', { meta: { url: response.url } });
  }
  const edges = body.edges.map((edge: unknown): ResultEdge => {
    const value = edge as { cursor?: unknown; node?: unknown } | null;
    if (!value || typeof value.cursor !== 'string') {
      throw new UpstreamError(AoClientErrorCode.badReply, 'the CU answered /results with an edge without a cursor', { meta: { url: response.url } });
    }
    return { cursor: value.cursor, node: toAoResult(value.node, response.url) };
  });
  return { edges, hasNextPage: body.pageInfo?.hasNextPage === true };
}
