import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { bytesToHex, getAddress, hexToBytes } from 'viem';
import type { Address, Hex } from 'viem';
import { blsSign } from '../../protocol/da/bls.ts';
import { decodeCells, decodeCustodyRequest, parseCellRefs } from '../../protocol/da/cell-wire.ts';
import { attestationMessage, blobSeed, dataRoot, epochSeed } from '../../protocol/da/certificate.ts';
import { assignedCells } from '../../protocol/da/custody.ts';
import type { BlobHeader, CellRef, CellWithProof, DaDomain } from '../../protocol/da/types.ts';
import { ConflictError, InvalidInputError, NotFoundError } from '../../protocol/errors.ts';
import type { Logger } from '../../shared/log.ts';
import type { CommitteeCache } from './committee.ts';
import { blobCountFor, checkHeader, custodyMismatch, refKey, rootParam, sameRefs, verifyInChunks } from './custody-checks.ts';
import type { DaStore } from './da-store.ts';

export type CustodyAnswer = {
  dataRoot: Hex;
  node: Address;
  index: number;
  publicKey: Hex;
  signature: Hex;
  cells: number;
};

/** Where a streaming custody session stands; `attestation` is set once every assigned cell is verified and stored. */
export type CustodyProgress = {
  dataRoot: Hex;
  index: number;
  received: number;
  expected: number;
  attestation: CustodyAnswer | null;
};

export type DaNodeServiceOptions = {
  domain: DaDomain;
  maxPayloadBytes: number;
  /**
   * Cells per KZG batch before yielding to the event loop. c-kzg's batch check costs ~200 µs a cell for 64 cells,
   * ~135 µs for 256 and ~115 µs from 512 on (mostly per-proof point decoding), so 512 cells (~60 ms) keeps the
   * event loop responsive at close to the cost of one big batch.
   */
  verifyChunkCells: number;
  /** Cells per store transaction, for the same reason (~512 cells ≈ 1 MB ≈ 15 ms of SQLite). */
  storeChunkCells: number;
  /** A streaming session nobody has sent cells to for this long is abandoned and its unsigned cells deleted. */
  sessionIdleMs: number;
  /** Open streaming sessions at most; one more abandons the longest idle one (or is refused if all are busy). */
  maxSessions: number;
};

export const defaultDaNodeServiceOptions = {
  maxPayloadBytes: 16 * 1024 * 1024,
  verifyChunkCells: 512,
  storeChunkCells: 512,
  sessionIdleMs: 120_000,
  maxSessions: 16,
} as const;

export type DaNodeServiceDeps = {
  store: DaStore;
  committee: CommitteeCache;
  address: Address;
  bls: { secretKey: Uint8Array; publicKey: Uint8Array };
  log: Logger;
  now?: () => number;
};

/**
 * Work this node did for custody since it started (the benchmark's profile reads it from /health): verifyMs and
 * signMs are CPU time of the thread; storeMs is wall time, fsync waits included.
 */
export type CustodyWork = { cellsVerified: number; verifyMs: number; storeMs: number; signMs: number; sessionsAbandoned: number };

export type DaNodeService = {
  /** Checks a custody request holding the whole assignment (wire bytes), stores the cells durably, signs the root. */
  custody(body: Uint8Array): Promise<CustodyAnswer>;
  /**
   * Opens (or rejoins) a streaming session for `root` from a custody request carrying its header and any number of
   * assigned cells (usually none): the header must hash to `root`. Cells then come with `addCells`.
   */
  openCustody(root: string, body: Uint8Array): Promise<CustodyProgress>;
  /** Verifies and stores some assigned cells of an open session (cell-wire kind 2); signs once all are held. */
  addCells(root: string, body: Uint8Array): Promise<CustodyProgress>;
  header(root: string): BlobHeader;
  /** The held cells of a root: those of `query` ("0:1,0:5") that are held, or all of them. */
  cells(root: string, query: string | undefined): CellWithProof[];
  work(): CustodyWork;
};

/**
 * A custody set being received. Only cells in `held` count toward the signature, and a cell enters `held` only
 * after it verified against `commitments` — the commitments of the header that hashes to `root` — and was stored.
 */
type Session = {
  root: Hex;
  header: BlobHeader;
  index: number;
  commitments: Uint8Array[];
  refs: CellRef[];
  assigned: Set<number>;
  held: Set<number>;
  /** Requests working on it: a busy session is never abandoned under them. */
  busy: number;
  touchedAt: number;
  verifyMs: number;
  storeMs: number;
};

export function createDaNodeService(options: DaNodeServiceOptions, deps: DaNodeServiceDeps): DaNodeService {
  const { domain } = options;
  const { store, committee, bls, log } = deps;
  const now = deps.now ?? Date.now;
  const address = getAddress(deps.address);
  const publicKey = bytesToHex(bls.publicKey);
  const maxBlobs = blobCountFor(options.maxPayloadBytes);
  const sessions = new Map<Hex, Session>();
  const work: CustodyWork = { cellsVerified: 0, verifyMs: 0, storeMs: 0, signMs: 0, sessionsAbandoned: 0 };
  const answer = (root: Hex, index: number, signature: Uint8Array, cells: number): CustodyAnswer => ({
    dataRoot: root,
    node: address,
    index,
    publicKey,
    signature: bytesToHex(signature),
    cells,
  });
  const attested = (root: Hex): CustodyAnswer | undefined => {
    const stored = store.attestation(root);
    return stored && answer(root, stored.index, stored.signature, stored.cells);
  };
  const progress = (session: Session, attestation: CustodyAnswer | undefined): CustodyProgress => ({
    dataRoot: session.root,
    index: session.index,
    received: attestation ? session.refs.length : session.held.size,
    expected: session.refs.length,
    attestation: attestation ?? null,
  });

  const knownRoot = (root: string): Hex => {
    const key = rootParam(root);
    if (!store.attestation(key)) {
      throw new NotFoundError('DA_UNKNOWN_ROOT', `this node holds no cells of ${root}`, { meta: { root } });
    }
    return key;
  };

  const abandon = (session: Session, why: string): void => {
    sessions.delete(session.root);
    store.dropPending(session.root);
    work.sessionsAbandoned++;
    log.info({ root: session.root, held: session.held.size, expected: session.refs.length, why }, 'custody session abandoned');
  };

  /** Abandons idle sessions past their time; called before sessions are looked up or added. */
  const sweep = (): void => {
    for (const session of [...sessions.values()]) {
      if (session.busy === 0 && now() - session.touchedAt > options.sessionIdleMs) abandon(session, 'idle');
    }
  };

  /** Every check a header must pass before any of its cells is looked at; builds (does not register) a session. */
  const prepare = async (header: BlobHeader): Promise<Session> => {
    checkHeader(header, options.maxPayloadBytes, maxBlobs);
    const root = dataRoot(header);
    const members = await committee.forEpoch(header.epoch);
    if (members.epoch !== header.epoch) {
      throw new ConflictError('DA_WRONG_EPOCH', `the request is for epoch ${header.epoch}, the committee is at epoch ${members.epoch}`, {
        meta: { expected: members.epoch.toString(), got: header.epoch.toString() },
      });
    }
    const me = members.members.find((member) => member.address === address);
    if (!me) {
      throw new ConflictError('DA_NOT_IN_COMMITTEE', `node ${address} is not in the committee of epoch ${members.epoch}`, {
        meta: { node: address, epoch: members.epoch.toString() },
      });
    }
    const refs = assignedCells(blobSeed(epochSeed(domain, header.epoch), root), members.members.length, members.replication, header.blobCount, me.index);
    return {
      root,
      header,
      index: me.index,
      commitments: header.commitments.map((commitment) => hexToBytes(commitment)),
      refs,
      assigned: new Set(refs.map(refKey)),
      held: new Set(),
      busy: 0,
      touchedAt: now(),
      verifyMs: 0,
      storeMs: 0,
    };
  };

  /** The open session of `prepared.root`, or `prepared` registered as one. */
  const join = (prepared: Session): Session => {
    sweep();
    const existing = sessions.get(prepared.root);
    if (existing) {
      existing.touchedAt = now();
      return existing;
    }
    if (sessions.size >= options.maxSessions) {
      const idle = [...sessions.values()].filter((s) => s.busy === 0).sort((a, b) => a.touchedAt - b.touchedAt)[0];
      if (!idle) {
        throw new ConflictError('DA_TOO_MANY_SESSIONS', `this node already has ${sessions.size} custody sessions in progress`, {
          meta: { maxSessions: options.maxSessions },
        });
      }
      abandon(idle, 'evicted');
    }
    sessions.set(prepared.root, prepared);
    return prepared;
  };

  /** Verifies, then stores, the cells of `cells` this session does not hold yet; all of them must be assigned. */
  const accept = async (session: Session, cells: readonly CellWithProof[]): Promise<void> => {
    const seen = new Set<number>();
    const fresh: CellWithProof[] = [];
    for (const cell of cells) {
      const key = refKey(cell);
      if (!session.assigned.has(key)) throw custodyMismatch(session.root, `cell ${cell.blob}:${cell.cell} is not assigned to node ${session.index}`);
      if (seen.has(key)) throw custodyMismatch(session.root, `cell ${cell.blob}:${cell.cell} is sent twice`);
      seen.add(key);
      if (!session.held.has(key)) fresh.push(cell);
    }
    if (fresh.length === 0) return;
    session.busy++;
    try {
      const verifyMs = await verifyInChunks(session.commitments, fresh, options.verifyChunkCells, session.root);
      let storeMs = 0;
      for (let start = 0; start < fresh.length; start += options.storeChunkCells) {
        if (start > 0) await yieldToLoop();
        const storeStart = performance.now();
        store.putCells(session.root, fresh.slice(start, start + options.storeChunkCells));
        storeMs += performance.now() - storeStart;
      }
      for (const cell of fresh) session.held.add(refKey(cell));
      session.verifyMs += verifyMs;
      session.storeMs += storeMs;
      work.cellsVerified += fresh.length;
      work.verifyMs += verifyMs;
      work.storeMs += storeMs;
    } finally {
      session.busy--;
      session.touchedAt = now();
    }
  };

  /** Signs once every assigned cell is held (and only then); the session ends with the signature. */
  const finish = (session: Session): CustodyAnswer | undefined => {
    const already = attested(session.root);
    if (already) {
      if (session.busy === 0) sessions.delete(session.root);
      return already;
    }
    if (session.held.size !== session.refs.length) return undefined;
    const signStart = process.threadCpuUsage();
    const signature = blsSign(bls.secretKey, attestationMessage(domain, session.root));
    const signed = process.threadCpuUsage(signStart);
    work.signMs += (signed.user + signed.system) / 1000;
    const saved = store.putCustody({ dataRoot: session.root, header: session.header, index: session.index, signature, cells: session.refs.length });
    if (session.busy === 0) sessions.delete(session.root);
    log.info(
      {
        root: session.root,
        epoch: session.header.epoch.toString(),
        blobs: session.header.blobCount,
        cells: saved.cells,
        verifyMs: Math.round(session.verifyMs),
        storeMs: Math.round(session.storeMs),
      },
      'custody accepted',
    );
    return answer(session.root, saved.index, saved.signature, saved.cells);
  };

  return {
    async custody(body) {
      const request = decodeCustodyRequest(body);
      const { header } = request;
      checkHeader(header, options.maxPayloadBytes, maxBlobs);
      const root = dataRoot(header);
      const refs = request.cells.map(({ blob, cell }) => ({ blob, cell }));

      const stored = store.attestation(root);
      if (stored) {
        // The same root again (a retry): the same answer, as long as it is the same custody set.
        if (!sameRefs(refs, store.heldRefs(root))) throw custodyMismatch(root, 'these are not the cells this node holds for this root');
        return answer(root, stored.index, stored.signature, stored.cells);
      }
      const prepared = await prepare(header);
      if (!sameRefs(refs, prepared.refs)) {
        throw custodyMismatch(root, `node ${prepared.index} must be sent exactly its ${prepared.refs.length} assigned cells`);
      }
      const session = join(prepared);
      try {
        await accept(session, request.cells);
      } finally {
        // A refused one-shot request leaves no session behind (one it joined is the streamer's to finish).
        if (session === prepared && session.busy === 0 && session.held.size === 0) sessions.delete(session.root);
      }
      const signed = finish(session);
      if (!signed) throw new ConflictError('DA_CUSTODY_INCOMPLETE', 'the custody set is not complete', { meta: { root } });
      return signed;
    },

    async openCustody(rootText, body) {
      const root = rootParam(rootText);
      const request = decodeCustodyRequest(body);
      if (dataRoot(request.header) !== root) {
        throw new InvalidInputError('DA_ROOT_MISMATCH', 'the header does not hash to the data root of the URL', { meta: { root } });
      }
      const stored = store.attestation(root);
      if (stored) {
        return { dataRoot: root, index: stored.index, received: stored.cells, expected: stored.cells, attestation: answer(root, stored.index, stored.signature, stored.cells) };
      }
      const session = join(await prepare(request.header));
      await accept(session, request.cells);
      return progress(session, finish(session));
    },

    async addCells(rootText, body) {
      const root = rootParam(rootText);
      const cells = decodeCells(body);
      sweep();
      const session = sessions.get(root);
      if (!session) {
        const signed = attested(root);
        // Cells after the signature change nothing: the node holds its whole assignment already.
        if (signed) return { dataRoot: root, index: signed.index, received: signed.cells, expected: signed.cells, attestation: signed };
        throw new NotFoundError('DA_UNKNOWN_SESSION', `no custody session is open for ${root}; open one with its header first`, { meta: { root } });
      }
      await accept(session, cells);
      return progress(session, finish(session));
    },

    header(root) {
      const header = store.header(knownRoot(root));
      if (!header) throw new NotFoundError('DA_UNKNOWN_ROOT', `this node holds no cells of ${root}`, { meta: { root } });
      return header;
    },

    cells(root, query) {
      const key = knownRoot(root);
      if (query === undefined) return store.cells(key);
      const unique = new Map(parseCellRefs(query).map((ref) => [`${ref.blob}:${ref.cell}`, ref]));
      return store.cells(key, [...unique.values()]);
    },

    work: () => ({
      ...work,
      verifyMs: Math.round(work.verifyMs),
      storeMs: Math.round(work.storeMs),
      signMs: Math.round(work.signMs),
    }),
  };
}
