import { InvalidInputError, LevityError } from '../protocol/errors.ts';

/**
 * Errors in the shapes 0G's node (jsonrpsee) answers with; clients match on their text.
 * Invalid params: code -32602, message "Invalid params: <param>", data the reason.
 * The error class says what HTTP routes answer (400, 404, 409, …); `meta.rpc` what JSON-RPC does.
 */
export type ZgsRpcError = { code: number; message: string; data?: unknown };

type ErrorClass = new (code: string, shortMessage: string, options?: ConstructorParameters<typeof LevityError>[2]) => LevityError;

export function invalidParams(param: string, reason: string, kind: ErrorClass = InvalidInputError): LevityError {
  return new kind('STORAGE_INVALID_PARAMS', reason, { meta: { rpc: { code: -32602, message: `Invalid params: ${param}`, data: reason } } });
}

export function internalError(reason: string, kind: ErrorClass = LevityError, code = 'STORAGE_INTERNAL'): LevityError {
  return new kind(code, reason, { meta: { rpc: { code: -32603, message: 'Internal error', data: reason } } });
}

/** The JSON-RPC error object for anything a zgs method threw. */
export function toZgsRpcError(error: unknown): ZgsRpcError {
  if (error instanceof LevityError) {
    const rpc = error.meta.rpc as ZgsRpcError | undefined;
    if (rpc) return rpc;
    const param = error.meta.param;
    if (typeof param === 'string') return { code: -32602, message: `Invalid params: ${param}`, data: error.shortMessage };
    if (error.name === 'InvalidInputError') return { code: -32602, message: 'Invalid params', data: error.shortMessage };
    return { code: -32603, message: 'Internal error', data: error.shortMessage };
  }
  return { code: -32603, message: 'Internal error', data: error instanceof Error ? error.message : String(error) };
}
