import { bodyLimit } from 'hono/body-limit';
import type { MiddlewareHandler } from 'hono';

/** Refuses bodies over `maxBytes` with 413 and a typed error, before reading them whole. */
export function rawBodyLimit(maxBytes: number): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) =>
      c.json({ error: { code: 'HTTP_BODY_TOO_LARGE', message: `request body over ${maxBytes} bytes`, meta: { maxBytes } } }, 413),
  });
}
