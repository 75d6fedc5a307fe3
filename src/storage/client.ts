import { UpstreamError } from '../protocol/errors.ts';

/** A minimal JSON-RPC client for storage nodes and the indexer (`zgs_*`, `indexer_*`). */
export type JsonRpcClient = { call<T>(method: string, params?: unknown[]): Promise<T> };

export type JsonRpcClientOptions = { timeoutMs?: number };

export function jsonRpcClient(url: string, options: JsonRpcClientOptions = {}): JsonRpcClient {
  let nextId = 1;
  return {
    async call<T>(method: string, params?: unknown[]): Promise<T> {
      const body = JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, ...(params ? { params } : {}) });
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
        });
      } catch (cause) {
        throw new UpstreamError('STORAGE_NODE_UNREACHABLE', `cannot reach ${url}`, { cause, meta: { url, method } });
      }
      const answer = (await response.json().catch(() => ({}))) as { result?: T; error?: { code: number; message: string; data?: unknown } };
      if (answer.error) {
        const reason = typeof answer.error.data === 'string' ? `${answer.error.message}: ${answer.error.data}` : answer.error.message;
        throw new UpstreamError('STORAGE_RPC_ERROR', `${method} failed at ${url}: ${reason}`, { meta: { url, method, error: answer.error } });
      }
      return answer.result as T;
    },
  };
}
