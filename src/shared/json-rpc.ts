/** JSON-RPC 2.0 framing shared by every JSON-RPC endpoint: validation, batches, error objects. */

/** Anything that answers requests the EIP-1193 way: an EVM provider or a method table. */
export type RpcHandler = { request(args: { method: string; params?: readonly unknown[] | object }): Promise<unknown> };

/** A JSON-RPC error as handlers throw them: a numeric code, a message, maybe data. */
export type RpcErrorLike = { code: number; message: string; data?: unknown };

export function isRpcErrorLike(value: unknown): value is RpcErrorLike {
  if (typeof value !== 'object' || value === null) return false;
  const { code, message } = value as Record<string, unknown>;
  return typeof code === 'number' && typeof message === 'string';
}

export type JsonRpcId = string | number | null;
export type JsonRpcRequest = { jsonrpc: '2.0'; id?: JsonRpcId; method: string; params?: unknown[] | object };
export type JsonRpcError = { code: number; message: string; data?: unknown };
export type JsonRpcResponse =
  | { jsonrpc: '2.0'; id: JsonRpcId; result: unknown }
  | { jsonrpc: '2.0'; id: JsonRpcId; error: JsonRpcError };

export const RPC_PARSE_ERROR = -32700;
export const RPC_INVALID_REQUEST = -32600;
export const RPC_INTERNAL_ERROR = -32603;
export const MAX_BATCH = 1000;

export type CallHook = (request: JsonRpcRequest) => Promise<unknown> | undefined;

export function errorResponse(id: JsonRpcId, code: number, message: string, data?: unknown): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } };
}

/** Checks one request object; returns the error to answer with when it is malformed. */
export function validateRequest(value: unknown): JsonRpcRequest | JsonRpcResponse {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return errorResponse(null, RPC_INVALID_REQUEST, 'invalid request: expected a JSON-RPC object');
  }
  const { jsonrpc, id, method, params } = value as Record<string, unknown>;
  const safeId: JsonRpcId = typeof id === 'string' || typeof id === 'number' ? id : null;
  if (id !== undefined && id !== null && typeof id !== 'string' && typeof id !== 'number') {
    return errorResponse(null, RPC_INVALID_REQUEST, 'invalid request: id must be a string, number or null');
  }
  if (jsonrpc !== '2.0') return errorResponse(safeId, RPC_INVALID_REQUEST, 'invalid request: jsonrpc must be "2.0"');
  if (typeof method !== 'string' || method.length === 0) {
    return errorResponse(safeId, RPC_INVALID_REQUEST, 'invalid request: method must be a non-empty string');
  }
  if (params !== undefined && (typeof params !== 'object' || params === null)) {
    return errorResponse(safeId, RPC_INVALID_REQUEST, 'invalid request: params must be an array or object');
  }
  return value as JsonRpcRequest;
}

/**
 * Runs one request against the provider. `hook` may take over a method (for example
 * subscriptions on a WebSocket); when it returns undefined the provider answers.
 */
export async function callOne(provider: RpcHandler, value: unknown, hook?: CallHook): Promise<JsonRpcResponse | undefined> {
  const request = validateRequest(value);
  if (!('method' in request)) return request;
  const id = request.id ?? null;
  try {
    const hooked = hook?.(request);
    const result = hooked ? await hooked : await provider.request({ method: request.method, params: request.params ?? [] });
    if (request.id === undefined) return undefined; // a notification gets no answer
    return { jsonrpc: '2.0', id, result: result ?? null };
  } catch (error) {
    if (request.id === undefined) return undefined;
    if (isRpcErrorLike(error)) return errorResponse(id, error.code, error.message, error.data);
    return errorResponse(id, RPC_INTERNAL_ERROR, error instanceof Error ? error.message : String(error));
  }
}

/** Parses a request body and answers it: a single response, a batch, or nothing. */
export async function handleBody(provider: RpcHandler, text: string, hook?: CallHook): Promise<JsonRpcResponse | JsonRpcResponse[] | undefined> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return errorResponse(null, RPC_PARSE_ERROR, 'parse error: body is not valid JSON');
  }
  if (!Array.isArray(body)) return callOne(provider, body, hook);
  if (body.length === 0) return errorResponse(null, RPC_INVALID_REQUEST, 'invalid request: empty batch');
  if (body.length > MAX_BATCH) return errorResponse(null, RPC_INVALID_REQUEST, `invalid request: batch over ${MAX_BATCH}`);
  // Batch items run in order: a batch of writes must apply in the order it was sent.
  const responses: JsonRpcResponse[] = [];
  for (const item of body) {
    const response = await callOne(provider, item, hook);
    if (response) responses.push(response);
  }
  return responses.length > 0 ? responses : undefined;
}
