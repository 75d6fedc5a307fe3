import { bodyLimit } from 'hono/body-limit';
import type { Hono } from 'hono';
import { errorResponse, handleBody, RPC_INVALID_REQUEST } from './json-rpc.ts';
import type { CallHook, RpcHandler } from './json-rpc.ts';

export type JsonRpcRouteOptions = {
  /** Larger bodies are refused with a JSON-RPC error before they are read. */
  maxBodyBytes: number;
  /** Lets the endpoint take over some methods (see `callOne`). */
  hook?: CallHook;
  /** Called once per request body, for metrics. */
  onBody?: () => void;
};

/** Serves JSON-RPC on `POST /` of a role app: single requests, batches and notifications. */
export function mountJsonRpc(app: Hono, handler: RpcHandler, options: JsonRpcRouteOptions): void {
  const { maxBodyBytes, hook, onBody } = options;
  app.post(
    '/',
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: (c) => c.json(errorResponse(null, RPC_INVALID_REQUEST, `request body over ${maxBodyBytes} bytes`), 413),
    }),
    async (c) => {
      onBody?.();
      const answer = await handleBody(handler, await c.req.text(), hook);
      return answer === undefined ? c.body(null, 204) : c.json(answer);
    },
  );
}
