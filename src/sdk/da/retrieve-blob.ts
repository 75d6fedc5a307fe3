/**
 * Reads a certified payload back from the DA nodes, trusting none of them: every cell is checked
 * against the certified commitments before it counts, a node caught serving a bad cell is
 * reported, and each blob is rebuilt from cells 0..63 (the blob itself, since the extension is
 * systematic) or recovered from any 64 valid cells when some of those are missing.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Hex } from 'viem';
import { BYTES_PER_CELL, CELLS_PER_BLOB, RECOVERY_CELLS } from '../../protocol/da/constants.ts';
import { assignedCells } from '../../protocol/da/custody.ts';
import { recoverCells, verifyCellBatch } from '../../protocol/da/kzg.ts';
import { blobFromCells, blobsToPayload } from '../../protocol/da/payload-blobs.ts';
import type { BlobHeader, CellRef, CellWithProof } from '../../protocol/da/types.ts';
import { NotFoundError, isLevityError } from '../../protocol/errors.ts';
import { DaClientErrorCode, forEachLimited } from './da-http.ts';
import { locateRoot, noteBad, noteUnreachable, reasonOf } from './locate-root.ts';
import type { BadNode, LocatedRoot, ReadSourceParameters, UnreachableNode } from './locate-root.ts';
import type { DaNodeClient } from './node-client.ts';

export type RetrieveProgress = { phase: 'fetch' | 'rebuild'; done: number; total: number };

export type RetrieveBlobParameters = ReadSourceParameters & {
  /** Nodes fetched from at once (default 8). */
  concurrency?: number;
  onProgress?: (progress: RetrieveProgress) => void;
};

export type RetrieveReport = {
  /** Nodes that sent cells failing their KZG proofs (or a wrong header); their bad cells were discarded. */
  badNodes: BadNode[];
  /** Nodes skipped because they did not answer or did not have the data. */
  unreachable: UnreachableNode[];
  /** Valid cells the payload was rebuilt from (64 per blob). */
  cellsUsed: number;
  /** Blobs that needed erasure recovery (some of cells 0..63 were missing or bad). */
  recovered: number;
};

export type RetrieveBlobReturnType = { root: Hex; header: BlobHeader; payload: Uint8Array; report: RetrieveReport };

/** `?cells=` stays well under the 16 KiB request-head limit of Node servers; a longer custody set is asked in parts. */
export const MAX_CELLS_QUERY_CHARS = 6000;
/** Cells per KZG batch: big enough to amortise, small enough to keep the event loop moving. */
const VERIFY_CHUNK = 512;
/** Bad cells after which a node's remaining cells are not even checked. */
const GIVE_UP_BAD_CELLS = 256;

/**
 * Retrieves and verifies the payload of a certified data root. Throws NotFoundError
 * DA_NOT_CERTIFIED for a root without a certificate and DA_UNRECOVERABLE (naming the blob) when
 * fewer than 64 valid cells of some blob could be found.
 */
export async function retrieveBlob(parameters: RetrieveBlobParameters): Promise<RetrieveBlobReturnType> {
  const located = await locateRoot(parameters);
  const { root, header, committee, seed } = located;
  const n = committee.members.length;
  const store = new CellStore(header.blobCount);
  // A node that could not even send a header (dead, or without the data) is not asked again.
  const skipped = new Set(located.unreachable.map((node) => node.index));
  const plans = located.nodes.filter(({ member }) => !skipped.has(member.index)).map(({ member, client }) => ({
    member,
    client,
    refs: assignedCells(seed, n, committee.replication, header.blobCount, member.index),
  }));
  const totalBytes = plans.reduce((sum, plan) => sum + plan.refs.length * BYTES_PER_CELL, 0);
  let fetched = 0;
  parameters.onProgress?.({ phase: 'fetch', done: 0, total: totalBytes });

  await forEachLimited(plans.length, parameters.concurrency ?? 8, async (i) => {
    const plan = plans[i]!;
    const outcome = await fetchFromNode(located, plan.client, plan.refs, store, (cells) => {
      fetched += cells * BYTES_PER_CELL;
      parameters.onProgress?.({ phase: 'fetch', done: Math.min(fetched, totalBytes), total: totalBytes });
    });
    if (outcome.unreachable) noteUnreachable(located.unreachable, plan.member, outcome.unreachable);
    if (outcome.bad > 0) noteBad(located.badNodes, plan.member, 'sent cells that fail their KZG proofs', outcome.bad);
    if (outcome.badReason) noteBad(located.badNodes, plan.member, outcome.badReason, 0);
  });

  // Fail before any slow recovery: one short blob makes the whole payload unrecoverable.
  for (let blob = 0; blob < header.blobCount; blob++) {
    if (store.count(blob) < RECOVERY_CELLS) {
      throw new NotFoundError(DaClientErrorCode.unrecoverable, `blob ${blob} of ${root}: only ${store.count(blob)} valid cells found, ${RECOVERY_CELLS} needed`, {
        details: describeNodes(located),
        meta: { root, blob, validCells: store.count(blob), badNodes: located.badNodes, unreachable: located.unreachable },
      });
    }
  }

  const blobs: Uint8Array[] = [];
  let recovered = 0;
  for (let blob = 0; blob < header.blobCount; blob++) {
    const rebuilt = store.rebuild(blob);
    if (rebuilt.recovered) recovered++;
    blobs.push(rebuilt.bytes);
    parameters.onProgress?.({ phase: 'rebuild', done: blob + 1, total: header.blobCount });
    if (rebuilt.recovered) await yieldToLoop();
  }
  const payload = blobsToPayload(blobs, header.payloadSize);
  const byIndex = (a: { index: number }, b: { index: number }) => a.index - b.index;
  located.badNodes.sort(byIndex);
  located.unreachable.sort(byIndex);
  return {
    root,
    header,
    payload,
    report: { badNodes: located.badNodes, unreachable: located.unreachable, cellsUsed: header.blobCount * RECOVERY_CELLS, recovered },
  };
}

type NodeOutcome = { bad: number; badReason?: string; unreachable?: string };

/**
 * Asks one node for its whole custody set (in as few requests as the URL limit allows),
 * verifies what it sends and files the valid cells. A node that fails to answer is skipped from
 * there on; what it sent before still counts.
 */
async function fetchFromNode(
  located: LocatedRoot,
  client: DaNodeClient,
  refs: CellRef[],
  store: CellStore,
  onCells: (count: number) => void,
): Promise<NodeOutcome> {
  const outcome: NodeOutcome = { bad: 0 };
  for (const part of splitRefs(refs)) {
    let cells: CellWithProof[];
    try {
      cells = await client.cells(located.root, part);
    } catch (error) {
      if (isLevityError(error) && error.code === DaClientErrorCode.badReply) outcome.badReason = error.shortMessage;
      else outcome.unreachable = reasonOf(error);
      return outcome;
    }
    const asked = new Set(part.map(key));
    // Cells nobody asked for prove nothing either way; duplicates would be counted twice.
    const seen = new Set<number>();
    const wanted = cells.filter((cell) => {
      const k = key(cell);
      if (!asked.has(k) || seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    for (let start = 0; start < wanted.length; start += VERIFY_CHUNK) {
      const chunk = wanted.slice(start, start + VERIFY_CHUNK);
      const valid = validCells(located.commitments, chunk);
      outcome.bad += chunk.length - valid.length;
      for (const cell of valid) store.put(cell);
      if (outcome.bad >= GIVE_UP_BAD_CELLS) {
        // Sorting good from bad costs single checks; a node this wrong is not worth more CPU.
        outcome.badReason = `stopped reading it after ${outcome.bad} bad cells`;
        return outcome;
      }
      await yieldToLoop();
    }
    onCells(part.length);
  }
  return outcome;
}

/**
 * The cells of `chunk` whose proofs verify: one batch check, and on failure the halves, down to
 * small runs checked cell by cell. A batch costs far less per cell than single checks, so a few
 * bad cells among hundreds are found in a handful of batches rather than hundreds of checks.
 */
function validCells(commitments: Uint8Array[], chunk: CellWithProof[]): CellWithProof[] {
  if (chunk.length === 0 || verifies(commitments, chunk)) return chunk;
  // Each check has a fixed cost of a few single checks: below this, halving again costs more than it saves.
  if (chunk.length <= 16) return chunk.length === 1 ? [] : chunk.filter((cell) => verifies(commitments, [cell]));
  const half = Math.ceil(chunk.length / 2);
  return [...validCells(commitments, chunk.slice(0, half)), ...validCells(commitments, chunk.slice(half))];
}

export function verifies(commitments: Uint8Array[], cells: CellWithProof[]): boolean {
  try {
    return verifyCellBatch(
      cells.map((cell) => commitments[cell.blob]!),
      cells.map((cell) => cell.cell),
      cells.map((cell) => cell.data),
      cells.map((cell) => cell.proof),
    );
  } catch {
    // Non-canonical field elements or wrong lengths: as bad as a wrong proof.
    return false;
  }
}

/** Splits refs into runs whose `?cells=` query ("b:c,b:c") stays under MAX_CELLS_QUERY_CHARS. */
export function splitRefs(refs: readonly CellRef[]): CellRef[][] {
  const parts: CellRef[][] = [];
  let part: CellRef[] = [];
  let chars = 0;
  for (const ref of refs) {
    const length = `${ref.blob}:${ref.cell},`.length;
    if (part.length > 0 && chars + length > MAX_CELLS_QUERY_CHARS) {
      parts.push(part);
      part = [];
      chars = 0;
    }
    part.push(ref);
    chars += length;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

const key = (ref: CellRef) => ref.blob * CELLS_PER_BLOB + ref.cell;

/**
 * Valid cells by blob, copied out of the response buffers so those can be freed. Once a blob
 * has all of cells 0..63 its extension cells are dropped: they can no longer be needed. That
 * bounds memory near one copy of the extended data even for a 16 MiB payload.
 */
class CellStore {
  private readonly cells: Array<Map<number, Uint8Array>>;
  private readonly systematic: number[];

  constructor(blobCount: number) {
    this.cells = Array.from({ length: blobCount }, () => new Map<number, Uint8Array>());
    this.systematic = new Array<number>(blobCount).fill(0);
  }

  put(cell: CellWithProof): void {
    const slots = this.cells[cell.blob];
    if (!slots || slots.has(cell.cell)) return;
    const complete = this.systematic[cell.blob]! === RECOVERY_CELLS;
    if (complete && cell.cell >= RECOVERY_CELLS) return;
    slots.set(cell.cell, cell.data.slice());
    if (cell.cell < RECOVERY_CELLS && ++this.systematic[cell.blob]! === RECOVERY_CELLS) {
      for (const index of slots.keys()) if (index >= RECOVERY_CELLS) slots.delete(index);
    }
  }

  count(blob: number): number {
    return this.cells[blob]!.size;
  }

  /** The 128 KiB blob: cells 0..63 side by side, recovered first when some are missing. */
  rebuild(blob: number): { bytes: Uint8Array; recovered: boolean } {
    const slots = this.cells[blob]!;
    this.cells[blob] = new Map();
    if (this.systematic[blob] === RECOVERY_CELLS) {
      return { bytes: blobFromCells(Array.from({ length: RECOVERY_CELLS }, (_, index) => slots.get(index)!)), recovered: false };
    }
    const indices = [...slots.keys()].sort((a, b) => a - b).slice(0, RECOVERY_CELLS);
    const all = recoverCells(indices, indices.map((index) => slots.get(index)!)).cells;
    return { bytes: blobFromCells(all.slice(0, RECOVERY_CELLS)), recovered: true };
  }
}

function describeNodes(located: LocatedRoot): string {
  const notes = [
    ...located.badNodes.map((node) => `${node.url}: bad (${node.reason})`),
    ...located.unreachable.map((node) => `${node.url}: ${node.reason}`),
  ];
  return notes.length > 0 ? notes.join('; ') : 'every node answered, but the cells are not there';
}
