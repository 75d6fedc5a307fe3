import { InvalidInputError, LevityError, NotFoundError, UpstreamError, errorMessage } from '../protocol/errors.ts';

export type GatewayClientOptions = { timeoutMs?: number };

export type GatewayClient = {
  /** Posts a signed ANS-104 item; resolves once the gateway has it durably. */
  postItem(raw: Uint8Array): Promise<{ id: string }>;
  /** The item's data bytes. */
  data(id: string): Promise<Uint8Array>;
  /** Runs a query; GraphQL errors reject with GATEWAY_GRAPHQL_FAILED. */
  graphql<T>(query: string, variables?: object): Promise<T>;
};

type ErrorBody = { error?: { code?: unknown; message?: unknown; meta?: unknown } };
type GraphqlBody = { data?: unknown; errors?: { message?: unknown }[] };

/** A fetch-based client for a Levity gateway (used by the SU, MU, CU and the SDK). */
export function gatewayClient(url: string, options: GatewayClientOptions = {}): GatewayClient {
  const base = url.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 30_000;

  const request = async (path: string, init: RequestInit): Promise<Response> => {
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (cause) {
      throw new UpstreamError('GATEWAY_UNREACHABLE', `cannot reach the gateway at ${base}`, { details: errorMessage(cause), cause, meta: { url: base, path } });
    }
    if (response.ok || path === '/graphql') return response;
    throw await toError(response, path);
  };

  const toError = async (response: Response, path: string): Promise<LevityError> => {
    const body = (await response.json().catch(() => ({}))) as ErrorBody;
    const code = typeof body.error?.code === 'string' ? body.error.code : `GATEWAY_HTTP_${response.status}`;
    const message = typeof body.error?.message === 'string' ? body.error.message : `the gateway answered ${response.status} to ${path}`;
    const meta = { status: response.status, path, ...(typeof body.error?.meta === 'object' && body.error.meta !== null ? body.error.meta : {}) };
    if (response.status === 404) return new NotFoundError(code, message, { meta });
    if (response.status === 400 || response.status === 413) return new InvalidInputError(code, message, { meta });
    return new UpstreamError(code, message, { meta });
  };

  return {
    async postItem(raw) {
      const response = await request('/tx', {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', accept: 'application/json' },
        body: raw as Uint8Array<ArrayBuffer>,
      });
      const body = (await response.json().catch(() => ({}))) as { id?: unknown };
      if (typeof body.id !== 'string') throw new UpstreamError('GATEWAY_BAD_REPLY', 'the gateway accepted the item but sent no id', { meta: { url: base } });
      return { id: body.id };
    },
    async data(id) {
      const response = await request(`/raw/${encodeURIComponent(id)}`, { method: 'GET' });
      return new Uint8Array(await response.arrayBuffer());
    },
    async graphql<T>(query: string, variables?: object): Promise<T> {
      const response = await request('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json().catch(() => undefined)) as GraphqlBody | undefined;
      if (!body || typeof body !== 'object') {
        throw new UpstreamError('GATEWAY_BAD_REPLY', `the gateway answered ${response.status} to /graphql without JSON`, { meta: { status: response.status } });
      }
      if (body.errors && body.errors.length > 0) {
        const messages = body.errors.map((error) => String(error.message));
        const ErrorClass = response.status === 400 ? InvalidInputError : UpstreamError;
        throw new ErrorClass('GATEWAY_GRAPHQL_FAILED', `GraphQL query failed: ${messages.join('; ')}`, { meta: { status: response.status, errors: messages } });
      }
      if (!response.ok) throw new UpstreamError(`GATEWAY_HTTP_${response.status}`, `the gateway answered ${response.status} to /graphql`);
      return body.data as T;
    },
  };
}
