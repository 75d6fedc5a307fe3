/**
 * The SU and CU calls the other AO units make (spec ao.md §3.2, §3.3), and the gateway's block
 * metadata the CU reads for block crons (§3.4), over fetch. Failures are typed:
 * the unit refusing our input is InvalidInputError / NotFoundError (a caller's fault, never
 * retried), the unit being down, slow or answering nonsense is UpstreamError (retried).
 */
import type { EvalResult, SuMessage, SuPaginatedMessages, SuProcess } from '../protocol/ao/types.ts';
import { ConflictError, InvalidInputError, LevityError, NotFoundError, UpstreamError } from '../protocol/errors.ts';

export type SuAccepted = { timestamp: number; id: string };

export type SuAssignParameters = {
  processId: string;
  messageId: string;
  baseLayer?: boolean;
  exclude?: readonly string[];
};

export type SuClient = {
  readonly url: string;
  postItem(raw: Uint8Array, signal?: AbortSignal): Promise<SuAccepted>;
  assign(parameters: SuAssignParameters, signal?: AbortSignal): Promise<SuAccepted>;
  process(processId: string, signal?: AbortSignal): Promise<SuProcess>;
  /** Whether the SU has scheduled this message (or assignment) for the process. */
  hasMessage(messageId: string, processId: string, signal?: AbortSignal): Promise<boolean>;
  info(signal?: AbortSignal): Promise<{ timestamp: string; address: string }>;
  /** One page of a process's schedule after `from` (exclusive, ms), ascending. */
  page(processId: string, from: number | undefined, limit: number, signal?: AbortSignal): Promise<SuPaginatedMessages>;
  /** The slot of a message or assignment id. */
  slot(processId: string, id: string, signal?: AbortSignal): Promise<SuMessage>;
  /** The SU's current time; every later slot is stamped after it. */
  timestamp(processId: string, signal?: AbortSignal): Promise<{ timestamp: number; blockHeight: number }>;
};

/** One `/results` or `/cron` edge; a cron evaluation has no message id, only this cursor. */
export type ResultEdge = { cursor: string; node: Partial<EvalResult> };
export type ResultsPage = { pageInfo?: { hasNextPage?: boolean }; edges: ResultEdge[] };

export type CuClient = {
  readonly url: string;
  /** Blocks until the CU has evaluated the message (`no-busy=1`). */
  result(messageId: string, processId: string, signal?: AbortSignal): Promise<Partial<EvalResult>>;
  latestResults(processId: string, limit: number, signal?: AbortSignal): Promise<ResultsPage>;
  cron(processId: string, from: string | undefined, limit: number, signal?: AbortSignal): Promise<ResultsPage>;
};

export type UnitClientOptions = {
  /** Per-request limit; the CU's may be long, since `/result` waits for evaluation. */
  timeoutMs?: number;
  fetch?: typeof fetch;
};

const SU_TIMEOUT_MS = 15_000;
const CU_TIMEOUT_MS = 120_000;

export function httpSuClient(url: string, options: UnitClientOptions = {}): SuClient {
  const base = url.replace(/\/+$/, '');
  const call = requester('SU', base, options.timeoutMs ?? SU_TIMEOUT_MS, options.fetch ?? fetch);
  const octets = { 'content-type': 'application/octet-stream', accept: 'application/json' };
  return {
    url: base,
    async postItem(raw, signal) {
      return accepted(await call('/', { method: 'POST', headers: octets, body: raw, signal }));
    },
    async assign({ processId, messageId, baseLayer, exclude }, signal) {
      const query = new URLSearchParams({ 'process-id': processId, assign: messageId });
      if (exclude && exclude.length > 0) query.set('exclude', exclude.join(','));
      const flag = baseLayer ? '&base-layer' : '';
      return accepted(await call(`/?${query}${flag}`, { method: 'POST', headers: octets, signal }));
    },
    async process(processId, signal) {
      const body = await call(`/processes/${encodeURIComponent(processId)}`, { signal });
      if (!isRecord(body) || !Array.isArray(body.tags)) throw nonsense('SU', base, 'a process without tags');
      return body as SuProcess;
    },
    async hasMessage(messageId, processId, signal) {
      const query = new URLSearchParams({ 'process-id': processId });
      try {
        await call(`/${encodeURIComponent(messageId)}?${query}`, { signal });
        return true;
      } catch (error) {
        if (error instanceof NotFoundError || error instanceof InvalidInputError || error instanceof ConflictError) return false;
        throw error;
      }
    },
    async info(signal) {
      const body = await call('/', { signal });
      if (!isRecord(body) || typeof body.address !== 'string') throw nonsense('SU', base, 'no address at GET /');
      return { timestamp: String(body.timestamp), address: body.address };
    },
    async page(processId, from, limit, signal) {
      const query = new URLSearchParams({ 'process-id': processId, limit: String(limit) });
      if (from !== undefined) query.set('from', String(from));
      const body = await call(`/${encodeURIComponent(processId)}?${query}`, { signal });
      if (!isRecord(body) || !Array.isArray(body.edges) || !isRecord(body.page_info)) throw nonsense('SU', base, 'a page without edges');
      return body as SuPaginatedMessages;
    },
    async slot(processId, id, signal) {
      const query = new URLSearchParams({ 'process-id': processId });
      const body = await call(`/${encodeURIComponent(id)}?${query}`, { signal });
      if (!isRecord(body) || !isRecord(body.assignment)) throw nonsense('SU', base, 'a slot without an assignment');
      return body as SuMessage;
    },
    async timestamp(processId, signal) {
      const query = new URLSearchParams({ 'process-id': processId });
      const body = await call(`/timestamp?${query}`, { signal });
      if (!isRecord(body)) throw nonsense('SU', base, 'a timestamp that is not an object');
      return { timestamp: Number(body.timestamp), blockHeight: Number(body.block_height) };
    },
  };
}

export function httpCuClient(url: string, options: UnitClientOptions = {}): CuClient {
  const base = url.replace(/\/+$/, '');
  const call = requester('CU', base, options.timeoutMs ?? CU_TIMEOUT_MS, options.fetch ?? fetch);
  return {
    url: base,
    async result(messageId, processId, signal) {
      const query = new URLSearchParams({ 'process-id': processId, 'no-busy': '1' });
      const body = await call(`/result/${encodeURIComponent(messageId)}?${query}`, { signal });
      if (!isRecord(body)) throw nonsense('CU', base, 'a result that is not an object');
      return body as Partial<EvalResult>;
    },
    async latestResults(processId, limit, signal) {
      const query = new URLSearchParams({ sort: 'DESC', limit: String(limit) });
      return page('CU', base, await call(`/results/${encodeURIComponent(processId)}?${query}`, { signal }));
    },
    async cron(processId, from, limit, signal) {
      const query = new URLSearchParams({ limit: String(limit) });
      if (from !== undefined) query.set('from', from);
      return page('CU', base, await call(`/cron/${encodeURIComponent(processId)}?${query}`, { signal }));
    },
  };
}

/** A block's height and timestamp in ms (the gateway answers seconds, as Arweave does). */
export type BlockMeta = { height: number; timestamp: number };

export type GatewayBlocksClient = {
  readonly url: string;
  /** The blocks at these heights. A height the gateway does not have fails the call (AO_GATEWAY_BLOCK_MISSING). */
  blocksAt(heights: readonly number[], signal?: AbortSignal): Promise<Map<number, BlockMeta>>;
};

const GATEWAY_TIMEOUT_MS = 15_000;
/** The gateway's page cap for `blocks` (and Arweave's): one span of heights per request. */
const BLOCKS_PER_QUERY = 100;
const BLOCK_CACHE = 10_000;
const BLOCKS_QUERY = `query LevityCronBlocks($min: Int!, $max: Int!, $first: Int!, $after: String) {
  blocks(height: { min: $min, max: $max }, first: $first, after: $after, sort: HEIGHT_ASC) {
    pageInfo { hasNextPage }
    edges { cursor node { id timestamp height } }
  }
}`;

/**
 * Block heights and timestamps through the gateway's GraphQL `blocks` query, as the reference CU
 * reads them. Heights are asked for in spans of at most 100 blocks; blocks never change, so
 * answers are kept (bounded).
 */
export function httpGatewayBlocks(url: string, options: UnitClientOptions = {}): GatewayBlocksClient {
  const base = url.replace(/\/+$/, '');
  const call = requester('GATEWAY', base, options.timeoutMs ?? GATEWAY_TIMEOUT_MS, options.fetch ?? fetch);
  const cache = new Map<number, BlockMeta>();

  const span = async (min: number, max: number, into: Map<number, BlockMeta>, signal: AbortSignal | undefined): Promise<void> => {
    let after: string | undefined;
    for (;;) {
      const body = await call('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ query: BLOCKS_QUERY, variables: { min, max, first: BLOCKS_PER_QUERY, after } }),
        signal,
      });
      const connection = isRecord(body) && isRecord(body.data) ? body.data.blocks : undefined;
      if (!isRecord(connection) || !Array.isArray(connection.edges)) {
        const said = isRecord(body) && Array.isArray(body.errors) ? body.errors.map((e) => (isRecord(e) ? String(e.message) : '')).join('; ') : 'no blocks';
        throw new UpstreamError('AO_GATEWAY_FAILED', `the gateway at ${base} answered the blocks query with ${said}`, { meta: { url: base, min, max } });
      }
      for (const edge of connection.edges) {
        const node = isRecord(edge) ? edge.node : undefined;
        if (!isRecord(node) || !Number.isSafeInteger(node.height) || !Number.isSafeInteger(node.timestamp)) throw nonsense('GATEWAY', base, 'a block without height or timestamp');
        const meta = { height: node.height as number, timestamp: (node.timestamp as number) * 1000 };
        into.set(meta.height, meta);
        if (cache.size >= BLOCK_CACHE) cache.clear();
        cache.set(meta.height, meta);
      }
      const last = connection.edges.at(-1);
      const hasNext = isRecord(connection.pageInfo) && connection.pageInfo.hasNextPage === true;
      if (!hasNext || !isRecord(last) || typeof last.cursor !== 'string') return;
      after = last.cursor;
    }
  };

  return {
    url: base,
    async blocksAt(heights, signal) {
      const wanted = [...new Set(heights)].sort((a, b) => a - b);
      const fetched = new Map<number, BlockMeta>();
      const missing = wanted.filter((height) => !cache.has(height));
      for (let i = 0; i < missing.length; ) {
        const min = missing[i]!;
        let j = i;
        while (j + 1 < missing.length && missing[j + 1]! - min < BLOCKS_PER_QUERY) j++;
        await span(min, missing[j]!, fetched, signal);
        i = j + 1;
      }
      const found = new Map<number, BlockMeta>();
      for (const height of wanted) {
        const meta = fetched.get(height) ?? cache.get(height);
        if (!meta) {
          throw new UpstreamError('AO_GATEWAY_BLOCK_MISSING', `the gateway at ${base} has no block ${height} yet`, {
            details: 'block crons are evaluated only with their block; the evaluation is retried on the next request',
            meta: { url: base, height },
          });
        }
        found.set(height, meta);
      }
      return found;
    },
  };
}

type Call = (path: string, init: RequestInit & { signal?: AbortSignal | undefined }) => Promise<unknown>;

function requester(unit: 'SU' | 'CU' | 'GATEWAY', base: string, timeoutMs: number, fetchImpl: typeof fetch): Call {
  return async (path, init) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    const target = `${base}${path}`;
    const meta = { unit, url: target };
    let response: Response;
    let text: string;
    try {
      response = await fetchImpl(target, { ...init, signal });
      text = await response.text();
    } catch (error) {
      const reason = timeout.aborted ? `no answer within ${timeoutMs} ms` : 'unreachable';
      throw new UpstreamError(`AO_${unit}_UNAVAILABLE`, `the ${unit} at ${base} is ${reason}`, { meta, cause: error });
    }
    const body = parseJson(text);
    if (response.ok) {
      if (body === undefined) throw nonsense(unit, base, `a non-JSON reply to ${path}`);
      return body;
    }
    const said = errorText(body) ?? text.slice(0, 300);
    const details = `${response.status}: ${said}`;
    if (response.status === 404) {
      throw new NotFoundError(`AO_${unit}_NOT_FOUND`, `the ${unit} does not know ${path.split('?')[0]}`, { details, meta });
    }
    if (response.status === 409) {
      throw new ConflictError(`AO_${unit}_CONFLICT`, `the ${unit} refused the request: ${said}`, { meta: { ...meta, status: 409 } });
    }
    if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) {
      throw new InvalidInputError(`AO_${unit}_REJECTED`, `the ${unit} refused the request: ${said}`, {
        meta: { ...meta, status: response.status },
      });
    }
    throw new UpstreamError(`AO_${unit}_FAILED`, `the ${unit} at ${base} failed`, { details, meta: { ...meta, status: response.status } });
  };
}

function accepted(body: unknown): SuAccepted {
  if (!isRecord(body) || typeof body.id !== 'string') throw new UpstreamError('AO_SU_FAILED', 'the SU accepted without an id');
  return { id: body.id, timestamp: Number(body.timestamp) };
}

function page(unit: 'CU', base: string, body: unknown): ResultsPage {
  if (!isRecord(body) || !Array.isArray(body.edges)) throw nonsense(unit, base, 'a page without edges');
  const edges = body.edges.filter(
    (edge): edge is ResultEdge => isRecord(edge) && typeof edge.cursor === 'string' && isRecord(edge.node),
  );
  const pageInfo = isRecord(body.pageInfo) ? { hasNextPage: body.pageInfo.hasNextPage === true } : undefined;
  return pageInfo ? { pageInfo, edges } : { edges };
}

function nonsense(unit: string, base: string, what: string): LevityError {
  return new UpstreamError(`AO_${unit}_FAILED`, `the ${unit} at ${base} answered ${what}`);
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The SU answers `{error: "..."}`; Levity units answer `{error: {code, message}}`. */
function errorText(body: unknown): string | undefined {
  if (!isRecord(body)) return undefined;
  const error = body.error;
  if (typeof error === 'string') return error;
  if (isRecord(error) && typeof error.message === 'string') return error.message;
  return undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
