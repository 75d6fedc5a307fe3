/**
 * Error codes of the storage rules. Messages that a 0G node would send keep its exact text,
 * and `meta.param` names the JSON-RPC parameter, so a node can answer
 * `Invalid params: <param>` with the message as `data`, as the Rust node does.
 */
import { InvalidInputError } from '../errors.ts';
import type { ErrorMeta } from '../errors.ts';

export const StorageErrorCode = {
  invalidSize: 'STORAGE_INVALID_SIZE',
  indexOutOfBound: 'STORAGE_INDEX_OUT_OF_BOUND',
  invalidDataLength: 'STORAGE_INVALID_DATA_LENGTH',
  invalidProof: 'STORAGE_INVALID_PROOF',
  invalidPadding: 'STORAGE_INVALID_PADDING_PROOF',
  invalidInput: 'STORAGE_INVALID_INPUT',
} as const;
export type StorageErrorCode = (typeof StorageErrorCode)[keyof typeof StorageErrorCode];

export function storageError(
  code: StorageErrorCode,
  shortMessage: string,
  details?: string,
  meta: ErrorMeta = {},
): InvalidInputError {
  return new InvalidInputError(code, shortMessage, details === undefined ? { meta } : { details, meta });
}
