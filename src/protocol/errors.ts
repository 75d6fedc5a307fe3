/**
 * Typed errors shared by every subsystem. A code names the subsystem and the reason
 * (`SUBSYSTEM_REASON`); `meta` carries structured facts for logs and API responses.
 * Pure: no I/O, so protocol code may throw these too.
 */

export type ErrorMeta = Readonly<Record<string, unknown>>;

export type LevityErrorOptions = {
  /** One line on what went wrong; the message is built from it. */
  details?: string;
  meta?: ErrorMeta;
  cause?: unknown;
};

export class LevityError extends Error {
  override name = 'LevityError';
  readonly code: string;
  readonly shortMessage: string;
  readonly details: string | undefined;
  readonly meta: ErrorMeta;

  constructor(code: string, shortMessage: string, options: LevityErrorOptions = {}) {
    const message = options.details ? `${shortMessage}\n\nDetails: ${options.details}` : shortMessage;
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.shortMessage = shortMessage;
    this.details = options.details;
    this.meta = options.meta ?? {};
  }

  toJSON(): { code: string; message: string; meta: ErrorMeta } {
    return { code: this.code, message: this.shortMessage, meta: this.meta };
  }
}

/** Wrong input from a caller: a bad flag, config key, request body or parameter. */
export class InvalidInputError extends LevityError {
  override name = 'InvalidInputError';
}

/** Something asked for does not exist. */
export class NotFoundError extends LevityError {
  override name = 'NotFoundError';
}

/** The request is well-formed but conflicts with current state (a data dir in use, a duplicate). */
export class ConflictError extends LevityError {
  override name = 'ConflictError';
}

/** A remote peer or dependency failed or answered nonsense. */
export class UpstreamError extends LevityError {
  override name = 'UpstreamError';
}

export function isLevityError(value: unknown): value is LevityError {
  return value instanceof LevityError;
}

/** The message of anything thrown, for logs and one-line CLI reasons. */
export function errorMessage(value: unknown): string {
  if (value instanceof LevityError) return value.shortMessage;
  if (value instanceof Error) return value.message;
  return String(value);
}
