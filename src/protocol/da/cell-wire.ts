/**
 * The binary format cells travel in between the aggregator, DA nodes and readers (big-endian):
 *
 *   "LVDA" ‖ u8 version (1) ‖ u8 kind (1 custody request, 2 cells) ‖ u32 header length ‖ header JSON ‖
 *   u32 count ‖ count × (u32 blob ‖ u16 cell ‖ 2048 B cell ‖ 48 B proof)
 *
 * A custody request's header is the BlobHeader (epoch as a decimal string); a cells message's header is `{}`.
 * Decoding is strict, since the bytes come from peers: every length is checked before anything is allocated and
 * anything unexpected, trailing bytes included, is DA_WIRE_MALFORMED. Decoded cells and proofs are views into the
 * input (no copy).
 */
import type { Hex } from 'viem';
import { z } from 'zod';
import { InvalidInputError } from '../errors.ts';
import { BYTES_PER_CELL, BYTES_PER_PROOF, CELLS_PER_BLOB } from './constants.ts';
import { blobCountFor } from './payload-blobs.ts';
import type { BlobHeader, CellRef, CellWithProof } from './types.ts';

export const CELL_WIRE_MAGIC = 'LVDA';
export const CELL_WIRE_VERSION = 1;
export const CellWireKind = { custodyRequest: 1, cells: 2 } as const;
export type CellWireKind = (typeof CellWireKind)[keyof typeof CellWireKind];
/** u32 blob ‖ u16 cell ‖ cell ‖ proof. */
export const CELL_RECORD_BYTES = 4 + 2 + BYTES_PER_CELL + BYTES_PER_PROOF;

const MAGIC = new TextEncoder().encode(CELL_WIRE_MAGIC);
const PREAMBLE_BYTES = MAGIC.length + 1 + 1 + 4;
const MAX_U32 = 0xffff_ffff;
const MAX_U64 = (1n << 64n) - 1n;

/** BlobHeader as JSON (HTTP bodies and the custody request header): the epoch is a decimal string. */
export type BlobHeaderJson = { epoch: string; payloadSize: number; blobCount: number; commitments: Hex[] };

const blobHeaderSchema = z.strictObject({
  epoch: z.string().regex(/^(0|[1-9][0-9]{0,19})$/, 'must be a decimal u64 without leading zeros'),
  payloadSize: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  blobCount: z.number().int().positive().max(MAX_U32),
  commitments: z.array(z.string().regex(/^0x[0-9a-fA-F]{96}$/, 'must be a 48-byte hex commitment')),
});
const emptyHeaderSchema = z.strictObject({});

export function blobHeaderToJson(header: BlobHeader): BlobHeaderJson {
  return {
    epoch: header.epoch.toString(),
    payloadSize: header.payloadSize,
    blobCount: header.blobCount,
    commitments: [...header.commitments],
  };
}

/** Validates a BlobHeader in its JSON form (commitments come back lowercase). */
export function parseBlobHeader(value: unknown): BlobHeader {
  const parsed = blobHeaderSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
    throw malformed(`header: ${issues.join('; ')}`);
  }
  const { epoch, payloadSize, blobCount, commitments } = parsed.data;
  if (BigInt(epoch) > MAX_U64) throw malformed(`header: epoch ${epoch} is above 2^64 - 1`);
  const expected = blobCountFor(payloadSize);
  if (blobCount !== expected) throw malformed(`header: ${payloadSize} bytes take ${expected} blobs, not ${blobCount}`);
  if (commitments.length !== blobCount) {
    throw malformed(`header: ${commitments.length} commitments for ${blobCount} blobs`);
  }
  return {
    epoch: BigInt(epoch),
    payloadSize,
    blobCount,
    commitments: commitments.map((c) => c.toLowerCase() as Hex),
  };
}

export function encodeCustodyRequest(request: { header: BlobHeader; cells: readonly CellWithProof[] }): Uint8Array {
  const header = parseBlobHeader(blobHeaderToJson(request.header)); // never send what a node would refuse
  for (const cell of request.cells) {
    if (cell.blob >= header.blobCount) throw malformed(`cell ${cell.blob}:${cell.cell} names a blob past the header`);
  }
  return encode(CellWireKind.custodyRequest, blobHeaderToJson(header), request.cells);
}

export function decodeCustodyRequest(bytes: Uint8Array): { header: BlobHeader; cells: CellWithProof[] } {
  const { header: json, cells } = decode(bytes, CellWireKind.custodyRequest);
  const header = parseBlobHeader(json);
  for (const cell of cells) {
    if (cell.blob >= header.blobCount) {
      throw malformed(`cell ${cell.blob}:${cell.cell} names blob ${cell.blob} of ${header.blobCount}`);
    }
  }
  return { header, cells };
}

export function encodeCells(cells: readonly CellWithProof[]): Uint8Array {
  return encode(CellWireKind.cells, {}, cells);
}

export function decodeCells(bytes: Uint8Array): CellWithProof[] {
  const { header, cells } = decode(bytes, CellWireKind.cells);
  const parsed = emptyHeaderSchema.safeParse(header);
  if (!parsed.success) throw malformed('a cells message has the header {}');
  return cells;
}

/** "0:1,0:5,3:127" (blob:cell pairs), the `cells` query of GET /v1/blobs/:root/cells. */
export function formatCellRefs(refs: readonly CellRef[]): string {
  return refs
    .map((ref) => {
      checkRef(ref.blob, ref.cell, 'cannot format');
      return `${ref.blob}:${ref.cell}`;
    })
    .join(',');
}

export function parseCellRefs(text: string): CellRef[] {
  if (text === '') return [];
  return text.split(',').map((item) => {
    const match = /^(0|[1-9][0-9]{0,9}):(0|[1-9][0-9]{0,2})$/.exec(item);
    if (!match) throw malformed(`"${item.slice(0, 40)}" is not blob:cell`);
    const ref = { blob: Number(match[1]), cell: Number(match[2]) };
    checkRef(ref.blob, ref.cell, 'bad cell reference');
    return ref;
  });
}

function encode(kind: CellWireKind, header: object, cells: readonly CellWithProof[]): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const size = PREAMBLE_BYTES + json.length + 4 + cells.length * CELL_RECORD_BYTES;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  let at = MAGIC.length;
  view.setUint8(at++, CELL_WIRE_VERSION);
  view.setUint8(at++, kind);
  view.setUint32(at, json.length);
  out.set(json, (at += 4));
  at += json.length;
  view.setUint32(at, cells.length);
  at += 4;
  for (const [i, cell] of cells.entries()) {
    checkRef(cell.blob, cell.cell, `cannot encode cell ${i}`);
    if (cell.data.length !== BYTES_PER_CELL) throw malformed(`cannot encode cell ${i}: ${cell.data.length} bytes`);
    if (cell.proof.length !== BYTES_PER_PROOF) throw malformed(`cannot encode proof ${i}: ${cell.proof.length} bytes`);
    view.setUint32(at, cell.blob);
    view.setUint16(at + 4, cell.cell);
    out.set(cell.data, at + 6);
    out.set(cell.proof, at + 6 + BYTES_PER_CELL);
    at += CELL_RECORD_BYTES;
  }
  return out;
}

function decode(bytes: Uint8Array, kind: CellWireKind): { header: unknown; cells: CellWithProof[] } {
  if (!(bytes instanceof Uint8Array)) throw malformed('not bytes');
  if (bytes.length < PREAMBLE_BYTES) throw malformed(`${bytes.length} bytes is shorter than the preamble`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw malformed(`bad magic (expected "${CELL_WIRE_MAGIC}")`);
  }
  let at = MAGIC.length;
  const version = view.getUint8(at++);
  if (version !== CELL_WIRE_VERSION) throw malformed(`version ${version} is not supported (${CELL_WIRE_VERSION})`);
  const got = view.getUint8(at++);
  if (got !== kind) throw malformed(`kind ${got}, expected ${kind}`);
  const headerLength = view.getUint32(at);
  at += 4;
  if (headerLength > bytes.length - at - 4) throw malformed(`header length ${headerLength} runs past the end`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(at, at + headerLength)));
  } catch {
    throw malformed('the header is not UTF-8 JSON');
  }
  at += headerLength;
  const count = view.getUint32(at);
  at += 4;
  const rest = bytes.length - at;
  if (rest !== count * CELL_RECORD_BYTES) {
    throw malformed(`${count} cells need ${count * CELL_RECORD_BYTES} bytes, ${rest} follow`);
  }
  const cells: CellWithProof[] = new Array(count);
  for (let i = 0; i < count; i++, at += CELL_RECORD_BYTES) {
    const blob = view.getUint32(at);
    const cell = view.getUint16(at + 4);
    if (cell >= CELLS_PER_BLOB) throw malformed(`cell ${i} has index ${cell} (≥ ${CELLS_PER_BLOB})`);
    cells[i] = {
      blob,
      cell,
      data: bytes.subarray(at + 6, at + 6 + BYTES_PER_CELL),
      proof: bytes.subarray(at + 6 + BYTES_PER_CELL, at + CELL_RECORD_BYTES),
    };
  }
  return { header, cells };
}

function checkRef(blob: number, cell: number, what: string): void {
  if (!Number.isInteger(blob) || blob < 0 || blob > MAX_U32) throw malformed(`${what}: blob index ${blob}`);
  if (!Number.isInteger(cell) || cell < 0 || cell >= CELLS_PER_BLOB) throw malformed(`${what}: cell index ${cell}`);
}

function malformed(details: string): InvalidInputError {
  // The reason goes into the short message: it is what an HTTP error body carries back to the sender.
  return new InvalidInputError('DA_WIRE_MALFORMED', `Malformed DA wire message: ${details}`, { meta: { reason: details } });
}
