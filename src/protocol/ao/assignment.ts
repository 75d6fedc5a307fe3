/** SU assignments (spec ao.md §4.2): their tags and the hash chain that links them. */
import { createHash } from 'node:crypto';
import { fromB64Url } from '../ans104/base64url.ts';
import { InvalidInputError } from '../errors.ts';
import type { Tag } from '../ans104/types.ts';

export type AssignmentTagsInput = {
  processId: string;
  epoch?: number;
  nonce: number;
  hashChain: string;
  blockHeight: number;
  timestamp: number;
  messageId: string;
  exclude?: string[];
};

/** Block heights are written as 12 zero-padded digits, as the reference SU does. */
export function padBlockHeight(height: number): string {
  if (!Number.isSafeInteger(height) || height < 0 || height > 999_999_999_999) {
    throw new InvalidInputError('AO_BAD_BLOCK_HEIGHT', 'A block height is a whole number of at most 12 digits', {
      details: `got ${height}`,
    });
  }
  return String(height).padStart(12, '0');
}

/** The assignment's tags in the reference SU's order; `Exclude` only when given. */
export function assignmentTags(a: AssignmentTagsInput): Tag[] {
  const tags: Tag[] = [
    { name: 'Process', value: a.processId },
    { name: 'Epoch', value: String(a.epoch ?? 0) },
    { name: 'Nonce', value: String(a.nonce) },
    { name: 'Hash-Chain', value: a.hashChain },
    { name: 'Block-Height', value: padBlockHeight(a.blockHeight) },
    { name: 'Timestamp', value: String(a.timestamp) },
    { name: 'Data-Protocol', value: 'ao' },
    { name: 'Type', value: 'Assignment' },
    { name: 'Variant', value: 'ao.TN.1' },
    { name: 'Message', value: a.messageId },
  ];
  if (a.exclude !== undefined && a.exclude.length > 0) tags.push({ name: 'Exclude', value: a.exclude.join(',') });
  return tags;
}

function sha256B64Url(...parts: Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('base64url');
}

/** HC_0 = b64url(sha256(decode(processId))): the Hash-Chain of the process's own assignment. */
export function firstHashChain(processId: string): string {
  return sha256B64Url(fromB64Url(processId));
}

/** HC_n = b64url(sha256(decode(previous assignment id) ‖ decode(previous HC))). */
export function nextHashChain(previousAssignmentId: string, previousHashChain: string): string {
  return sha256B64Url(fromB64Url(previousAssignmentId), fromB64Url(previousHashChain));
}
