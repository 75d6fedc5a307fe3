/**
 * HTTP client for one DA node (`GET /v1/info`, `/v1/blobs/:root`, `/v1/blobs/:root/cells`,
 * `POST /v1/custody`, and the streaming `POST /v1/custody/:root` and `/v1/custody/:root/cells`). Every answer is shape-checked here; whether cells are *true* is the
 * caller's business (KZG proofs), since a node may lie in well-formed bytes.
 */
import type { Address, Hex } from 'viem';
import { z } from 'zod';
import { decodeCells, formatCellRefs, parseBlobHeader } from '../../protocol/da/cell-wire.ts';
import type { BlobHeader, CellRef, CellWithProof } from '../../protocol/da/types.ts';
import { LevityError } from '../../protocol/errors.ts';
import { assertRoot, assertUrl, badReply, daFetch, jsonBody, readBody } from './da-http.ts';
import type { DaRequest, FetchLike } from './da-http.ts';

export type DaNodeInfo = { address: Address; publicKey: Hex; url: string; contract: Address; chainId: number; index?: number };

/** What a node answers to a custody request: its BLS attestation over the data root. */
export type DaAttestation = { dataRoot: Hex; node: Address; index: number; publicKey: Hex; signature: Hex; cells: number };

/**
 * Where a streaming custody session stands on a node: `received` of its `expected` assigned cells are verified and
 * stored; `attestation` is set once all of them are, and never before.
 */
export type DaCustodyProgress = { dataRoot: Hex; index: number; received: number; expected: number; attestation: DaAttestation | null };

export type DaNodeClientOptions = {
  fetch?: FetchLike;
  /** Limit on each request (default 30 s). */
  timeoutMs?: number;
};

export type DaNodeClient = {
  readonly url: string;
  info(): Promise<DaNodeInfo>;
  /** The blob header of a root; NotFoundError (the node's code) when the node does not know it. */
  header(root: Hex): Promise<BlobHeader>;
  /** The cells the node holds among `refs` (all it holds when omitted); only well-formedness is checked. */
  cells(root: Hex, refs?: readonly CellRef[]): Promise<CellWithProof[]>;
  /** Sends an encoded custody request (cell-wire kind 1) and returns the node's attestation. */
  custody(request: Uint8Array): Promise<DaAttestation>;
  /**
   * Opens (or rejoins) a streaming custody session for `root` with a custody request (kind 1) carrying its header and
   * usually no cells; the node answers DA_ROOT_MISMATCH if the header does not hash to `root`.
   */
  openCustody(root: Hex, request: Uint8Array): Promise<DaCustodyProgress>;
  /** Sends some assigned cells (kind 2) of an open session; DA_UNKNOWN_SESSION if the node has none for `root`. */
  sendCells(root: Hex, cells: Uint8Array): Promise<DaCustodyProgress>;
};

const hex = (bytes?: number) =>
  z.string().regex(bytes === undefined ? /^0x(?:[0-9a-fA-F]{2})*$/ : new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`)) as unknown as z.ZodType<Hex>;
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/) as unknown as z.ZodType<Address>;

const infoSchema = z.object({
  address,
  publicKey: hex(48),
  url: z.string(),
  contract: address,
  chainId: z.number().int().positive(),
  index: z.number().int().nonnegative().optional(),
});

const attestationSchema = z.object({
  dataRoot: hex(32),
  node: address,
  index: z.number().int().nonnegative(),
  publicKey: hex(48),
  signature: hex(96),
  cells: z.number().int().nonnegative(),
});

const progressSchema = z.object({
  dataRoot: hex(32),
  index: z.number().int().nonnegative(),
  received: z.number().int().nonnegative(),
  expected: z.number().int().nonnegative(),
  attestation: attestationSchema.nullable(),
});

export function daNodeClient(url: string, options: DaNodeClientOptions = {}): DaNodeClient {
  const base = assertUrl('a DA node URL', url);
  const request = (path: string, extra: Partial<DaRequest> = {}): DaRequest => ({
    peer: 'DA node',
    url: `${base}${path}`,
    fetch: options.fetch,
    timeoutMs: options.timeoutMs,
    ...extra,
  });
  const post = (path: string, body: Uint8Array) =>
    request(path, { method: 'POST', body: body as Uint8Array<ArrayBuffer>, contentType: 'application/octet-stream' });
  const json = async <T>(req: DaRequest, schema: z.ZodType<T>, what: string): Promise<T> => {
    const body = await jsonBody(req, await daFetch(req));
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw badReply(req, `sent a malformed ${what}`, `${issue?.path.join('.')}: ${issue?.message}`);
    }
    return parsed.data;
  };
  return {
    url: base,
    info: () => json(request('/v1/info'), infoSchema, 'info'),
    async header(root) {
      assertRoot(root);
      const req = request(`/v1/blobs/${root}`);
      const body = await jsonBody(req, await daFetch(req));
      try {
        return parseBlobHeader(body);
      } catch (cause) {
        throw badReply(req, 'sent a malformed blob header', cause instanceof LevityError ? cause.details ?? cause.shortMessage : String(cause));
      }
    },
    async cells(root, refs) {
      assertRoot(root);
      const query = refs === undefined ? '' : `?cells=${formatCellRefs([...refs])}`;
      const req = request(`/v1/blobs/${root}/cells${query}`, { accept: 'application/octet-stream' });
      const response = await daFetch(req);
      const bytes = new Uint8Array(await readBody(req, () => response.arrayBuffer()));
      try {
        return decodeCells(bytes);
      } catch (cause) {
        throw badReply(req, 'sent cells that do not decode', cause instanceof LevityError ? cause.shortMessage : String(cause));
      }
    },
    custody: (body) => json(post('/v1/custody', body), attestationSchema, 'attestation'),
    openCustody(root, body) {
      assertRoot(root);
      return json(post(`/v1/custody/${root}`, body), progressSchema, 'custody progress');
    },
    sendCells(root, body) {
      assertRoot(root);
      return json(post(`/v1/custody/${root}/cells`, body), progressSchema, 'custody progress');
    },
  };
}
