/**
 * Submitting payloads to a DA aggregator and following them to a certificate. A file is
 * streamed as the request body (never read whole), so a 16 MiB payload costs one chunk of
 * memory here; the aggregator enforces its own size limit (413 DA_PAYLOAD_TOO_LARGE).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Hex } from 'viem';
import { z } from 'zod';
import { InvalidInputError, NotFoundError, UpstreamError } from '../../protocol/errors.ts';
import { assertUrl, badReply, daFetch, DaClientErrorCode, invalidInput, jsonBody, sleep } from './da-http.ts';
import type { DaRequest, FetchLike } from './da-http.ts';

export const BlobState = { pending: 'pending', dispersed: 'dispersed', confirmed: 'confirmed', failed: 'failed' } as const;
export type BlobState = (typeof BlobState)[keyof typeof BlobState];

/** The aggregator's view of one submission (`GET /v1/blobs/:id`). */
export type BlobStatus = {
  id: string;
  status: BlobState;
  dataRoot?: Hex;
  epoch?: string;
  payloadSize: number;
  blobCount?: number;
  signers?: number[];
  txHash?: Hex;
  gasUsed?: string;
  error?: { code: string; message: string };
  timings?: { commitMs?: number; encodeMs?: number; disperseMs?: number; tailMs?: number; certifyMs?: number };
};

const hex = z.string().regex(/^0x[0-9a-fA-F]*$/) as unknown as z.ZodType<Hex>;
const decimal = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(String);

const statusSchema = z.object({
  id: z.string().min(1),
  status: z.enum(['pending', 'dispersed', 'confirmed', 'failed']),
  dataRoot: hex.optional(),
  epoch: decimal.optional(),
  payloadSize: z.number().int().nonnegative(),
  blobCount: z.number().int().nonnegative().optional(),
  signers: z.array(z.number().int().nonnegative()).optional(),
  txHash: hex.optional(),
  gasUsed: decimal.optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  timings: z
    .object({
      commitMs: z.number().optional(),
      encodeMs: z.number().optional(),
      disperseMs: z.number().optional(),
      tailMs: z.number().optional(),
      certifyMs: z.number().optional(),
    })
    .optional(),
});

const acceptedSchema = z.object({ id: z.string().min(1), status: z.string() });

type AggregatorParameters = { aggregator: string; fetch?: FetchLike; timeoutMs?: number };

export type SubmitBlobParameters = AggregatorParameters & {
  /** A file to stream; give this or `bytes`. */
  path?: string;
  bytes?: Uint8Array;
  /** Called as the body goes out: bytes handed to the socket so far and the payload size. */
  onProgress?: (sent: number, total: number) => void;
};
export type SubmitBlobReturnType = { id: string; status: string; size: number };

/** Streams a payload to the aggregator; resolves with its submission id once the aggregator accepted it (202). */
export async function submitBlob(parameters: SubmitBlobParameters): Promise<SubmitBlobReturnType> {
  const base = assertUrl('the aggregator URL', parameters.aggregator);
  if ((parameters.path === undefined) === (parameters.bytes === undefined)) throw invalidInput('give submitBlob a path or bytes, not both or neither');
  const { body, size } = parameters.path !== undefined ? await fileBody(parameters.path, parameters.onProgress) : bytesBody(parameters.bytes!, parameters.onProgress);
  const request: DaRequest = {
    peer: 'aggregator',
    url: `${base}/v1/blobs`,
    method: 'POST',
    body,
    contentType: 'application/octet-stream',
    contentLength: size,
    fetch: parameters.fetch,
    // The upload itself can take a while on a slow link; 16 MiB at 1 MB/s still fits.
    timeoutMs: parameters.timeoutMs ?? 120_000,
  };
  const parsed = acceptedSchema.safeParse(await jsonBody(request, await daFetch(request)));
  if (!parsed.success) throw badReply(request, 'accepted the payload without an id');
  parameters.onProgress?.(size, size);
  return { id: parsed.data.id, status: parsed.data.status, size };
}

async function fileBody(path: string, onProgress?: (sent: number, total: number) => void): Promise<{ body: ReadableStream<Uint8Array>; size: number }> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw invalidInput(`${path} is not a readable file`);
  if (info.size === 0) throw invalidInput(`${path} is empty; DA cannot certify an empty payload`);
  const size = info.size;
  let sent = 0;
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      sent += chunk.length;
      onProgress?.(sent, size);
      controller.enqueue(chunk);
    },
  });
  const file = Readable.toWeb(createReadStream(path, { highWaterMark: 1024 * 1024 })) as ReadableStream<Uint8Array>;
  return { body: file.pipeThrough(counter), size };
}

function bytesBody(bytes: Uint8Array, onProgress?: (sent: number, total: number) => void): { body: Uint8Array<ArrayBuffer>; size: number } {
  if (!(bytes instanceof Uint8Array)) throw invalidInput('bytes must be a Uint8Array');
  if (bytes.length === 0) throw invalidInput('DA cannot certify an empty payload');
  onProgress?.(0, bytes.length);
  return { body: bytes as Uint8Array<ArrayBuffer>, size: bytes.length };
}

export type BlobStatusParameters = AggregatorParameters & { id: string };

/** The submission's current state; NotFoundError (the aggregator's code) for an unknown id. */
export async function blobStatus(parameters: BlobStatusParameters): Promise<BlobStatus> {
  const base = assertUrl('the aggregator URL', parameters.aggregator);
  if (typeof parameters.id !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(parameters.id)) throw invalidInput('a submission id is 1–128 URL-safe characters', `got ${String(parameters.id)}`);
  const request: DaRequest = { peer: 'aggregator', url: `${base}/v1/blobs/${parameters.id}`, fetch: parameters.fetch, timeoutMs: parameters.timeoutMs };
  const parsed = statusSchema.safeParse(await jsonBody(request, await daFetch(request)));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badReply(request, 'sent a malformed status', `${issue?.path.join('.')}: ${issue?.message}`);
  }
  return parsed.data;
}

export type WaitForBlobParameters = AggregatorParameters & {
  id: string;
  /** How long to wait for a final state in all (default 120 s); each request gets at most 30 s of it. */
  timeoutMs?: number;
  intervalMs?: number;
  onStatus?: (status: BlobStatus) => void;
};

/**
 * Polls until the submission is confirmed (resolves with that status) or failed (throws an
 * UpstreamError with the aggregator's own code and message). A status request that fails in
 * transit counts as "not yet", so an aggregator restart mid-wait does not end it; the last such
 * error is the cause of a DA_WAIT_TIMEOUT.
 */
export async function waitForBlob(parameters: WaitForBlobParameters): Promise<BlobStatus> {
  const waitMs = parameters.timeoutMs ?? 120_000;
  const deadline = Date.now() + waitMs;
  let interval = parameters.intervalMs ?? 50;
  let last: BlobStatus | undefined;
  let lastError: unknown;
  for (;;) {
    const remaining = Math.max(1, deadline - Date.now());
    const status = await blobStatus({ ...parameters, timeoutMs: Math.min(30_000, remaining) }).catch((error: unknown) => {
      // An unknown id or a bad one will not get better by waiting.
      if (error instanceof NotFoundError || error instanceof InvalidInputError) throw error;
      lastError = error;
      return undefined;
    });
    if (status) {
      if (last?.status !== status.status) parameters.onStatus?.(status);
      last = status;
      if (status.status === BlobState.confirmed) return status;
      if (status.status === BlobState.failed) throw failedError(status);
    }
    if (Date.now() >= deadline) {
      throw new UpstreamError(DaClientErrorCode.waitTimeout, `submission ${parameters.id} is still ${last?.status ?? 'unknown'} after ${waitMs} ms`, {
        meta: { id: parameters.id, status: last?.status },
        cause: lastError,
      });
    }
    await sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
    interval = Math.min(interval * 1.5, 500);
  }
}

/** A failed submission as an error with the aggregator's own code (DA_BLOB_FAILED when it gave none). */
export function failedError(status: BlobStatus): UpstreamError {
  const code = status.error?.code && /^[A-Z][A-Z0-9_]*$/.test(status.error.code) ? status.error.code : DaClientErrorCode.blobFailed;
  return new UpstreamError(code, status.error?.message ?? `submission ${status.id} failed`, {
    meta: { id: status.id, dataRoot: status.dataRoot, status: status.status },
  });
}
