import { ConflictError, InvalidInputError, NotFoundError, UpstreamError } from '../protocol/errors.ts';
import type { LevityError } from '../protocol/errors.ts';

export type ErrorFromResponseOptions = {
  /** Who answered, for the message: "SU", "DA node", ... */
  who: string;
  /** What was asked (the URL or route), for details and meta. */
  where: string;
  response: Response;
  /** The code when the answer carries none of its own. */
  fallbackCode: string;
  /** Facts to add to the error's meta (status and url are added). */
  meta: Record<string, unknown>;
};

type ErrorBody = { error?: unknown; message?: unknown };

/**
 * A non-2xx answer from a Levity service as a typed error: the service's own code and message
 * when it sent them (`{ error: { code, message } }`, `{ error: "..." }` or `{ message }`), else
 * the status, with the `meta` it sent. 4xx keep their meaning; anything else is the peer's failure.
 */
export async function errorFromResponse(options: ErrorFromResponseOptions): Promise<LevityError> {
  const { who, where, response } = options;
  const text = await response.text().catch(() => '');
  let code = options.fallbackCode;
  let message = `the ${who} answered ${response.status}`;
  let sentMeta: Record<string, unknown> = {};
  try {
    const body = JSON.parse(text) as ErrorBody;
    const error = body?.error;
    if (error && typeof error === 'object') {
      const inner = error as { code?: unknown; message?: unknown; meta?: unknown };
      if (typeof inner.code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(inner.code)) code = inner.code;
      if (typeof inner.message === 'string' && inner.message) message = inner.message;
      if (inner.meta && typeof inner.meta === 'object') sentMeta = inner.meta as Record<string, unknown>;
    } else if (typeof error === 'string' && error) {
      message = error;
    } else if (typeof body?.message === 'string' && body.message) {
      message = body.message;
    }
  } catch {
    if (text.trim()) message = `${message}: ${text.trim().slice(0, 200)}`;
  }
  const errorOptions = {
    details: `${who} ${response.status} to ${where}`,
    meta: { ...sentMeta, ...options.meta, status: response.status, url: where },
  };
  if (response.status === 404) return new NotFoundError(code, message, errorOptions);
  // 402: well-formed but not paid for (a fee cap or balance the caller can raise).
  if (response.status === 409 || response.status === 402) return new ConflictError(code, message, errorOptions);
  if (response.status === 400 || response.status === 401 || response.status === 413) return new InvalidInputError(code, message, errorOptions);
  return new UpstreamError(code, message, errorOptions);
}
