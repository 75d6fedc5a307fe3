import { join } from 'node:path';
import type { Context } from 'hono';
import type { Account, Address, Chain, PublicClient, Transport, WalletClient } from 'viem';
import { createBlobPacker, createUnsizedBlobPacker } from '../../protocol/da/payload-blobs.ts';
import type { PackedBlob } from '../../protocol/da/payload-blobs.ts';
import { InvalidInputError, LevityError, NotFoundError } from '../../protocol/errors.ts';
import { createRoleApp, listen } from '../../shared/http.ts';
import type { RunningHttpServer } from '../../shared/http.ts';
import type { Startable } from '../../shared/lifecycle.ts';
import type { Logger } from '../../shared/log.ts';
import { createEncoderPool } from '../encoder-pool.ts';
import type { EncoderPool } from '../encoder-pool.ts';
import { createAggregatorService } from './aggregator-service.ts';
import type { AggregatorService } from './aggregator-service.ts';
import type { BlobCells } from '../encoder-pool.ts';
import { openJobStore } from './job-store.ts';
import type { JobStore } from './job-store.ts';

export type DaAggregatorOptions = {
  dataDir: string;
  host: string;
  port: number;
  log: Logger;
  client: PublicClient;
  /** Pays for certificates; its own account keeps nonces apart from other roles. */
  wallet: WalletClient<Transport, Chain, Account>;
  chainId: number;
  contract: Address;
  maxPayloadBytes: number;
  /** Encoder worker threads; 0 means one per core. */
  encoderThreads: number;
  nodeTimeoutMs?: number;
  graceMs?: number;
  fetch?: typeof fetch;
};

export type DaAggregator = Startable & { readonly url: string; readonly service: AggregatorService };

/** How long `POST /v1/blobs?wait=1` and `GET /v1/blobs/:id?wait=1` hold a request at most. */
const MAX_WAIT_MS = 120_000;

/**
 * The DA aggregator role: takes a payload (streamed), encodes its blobs on worker threads as
 * the bytes arrive (every commitment first, then the cells), streams each blob's cells to their
 * custodians as soon as they are computed, and certifies the data root on chain.
 */
export function createDaAggregator(options: DaAggregatorOptions): DaAggregator {
  const log = options.log.child({ role: 'da-aggregator' });
  let running: { http: RunningHttpServer; service: AggregatorService; store: JobStore; pool: EncoderPool } | undefined;
  const need = () => {
    if (!running) throw new LevityError('DA_AGGREGATOR_NOT_STARTED', 'the DA aggregator is not running');
    return running;
  };

  return {
    get url() {
      return need().http.url;
    },
    get service() {
      return need().service;
    },
    async start() {
      const store = openJobStore(join(options.dataDir, 'jobs.sqlite'));
      const pool = createEncoderPool({ threads: options.encoderThreads });
      const service = createAggregatorService({
        store,
        client: options.client,
        wallet: options.wallet,
        domain: { chainId: options.chainId, contract: options.contract },
        log,
        fetch: options.fetch ?? fetch,
        nodeTimeoutMs: options.nodeTimeoutMs ?? 60_000,
        graceMs: options.graceMs ?? 250,
        // Small batches for the last two rounds of encoding, so nodes finish verifying right after the encoders.
        tailBlobs: 2 * pool.threads,
      });
      const { app } = createRoleApp({ role: 'da-aggregator', log, health: () => ({ threads: pool.threads, encoder: pool.stats() }) });
      app.post('/v1/blobs', async (c) => {
        const startedAt = performance.now();
        let received: Awaited<ReturnType<typeof receivePayload>>;
        try {
          received = await receivePayload(c, pool, options.maxPayloadBytes);
        } catch (error) {
          if (error instanceof PayloadTooLarge) return c.json({ error: error.toJSON() }, 413);
          throw error;
        }
        const { payloadSize, encoding } = received;
        const job = service.submit(payloadSize, encoding, startedAt);
        if (!wantsWait(c)) return c.json(job, 202);
        return c.json(await service.waitFor(job.id, MAX_WAIT_MS), 200);
      });
      app.get('/v1/blobs/:id', async (c) => {
        const id = c.req.param('id');
        const job = wantsWait(c) ? await service.waitFor(id, MAX_WAIT_MS) : service.get(id);
        if (!job) throw new NotFoundError('DA_UNKNOWN_JOB', `no submission with id ${id}`);
        return c.json(job);
      });
      app.get('/v1/roots/:root', (c) => {
        const root = c.req.param('root');
        if (!/^0x[0-9a-fA-F]{64}$/.test(root)) throw new InvalidInputError('DA_BAD_ROOT', 'a data root is 0x and 64 hex digits');
        const job = service.byRoot(root);
        if (!job) throw new NotFoundError('DA_UNKNOWN_ROOT', `no submission produced data root ${root}`);
        return c.json(job);
      });
      let http: RunningHttpServer;
      try {
        http = await listen(app, options.host, options.port);
      } catch (error) {
        await pool.close();
        store.close();
        throw error;
      }
      running = { http, service, store, pool };
      service.resume();
      log.info({ url: http.url, threads: pool.threads }, 'DA aggregator listening');
    },
    async stop() {
      const current = running;
      running = undefined;
      if (!current) return;
      current.service.stop();
      await current.http.close();
      await current.pool.close();
      current.store.close();
    },
  };
}

function wantsWait(c: Context): boolean {
  const wait = c.req.query('wait');
  return wait !== undefined && wait !== '0' && wait !== 'false';
}

/**
 * Reads the request body chunk by chunk, packing blobs as they fill and handing each to the
 * encoder at once, so encoding overlaps the upload. A body over the limit is refused with 413
 * before more of it is read; one without a length is buffered (it is bounded by the limit).
 */
async function receivePayload(c: Context, pool: EncoderPool, maxPayloadBytes: number) {
  const tooLarge = (size: number) =>
    new PayloadTooLarge('DA_PAYLOAD_TOO_LARGE', `payload of ${size} bytes is over the limit of ${maxPayloadBytes}`, {
      meta: { maxPayloadBytes },
    });
  const declared = c.req.header('content-length');
  let known: number | undefined;
  if (declared !== undefined) {
    known = Number(declared);
    if (!Number.isSafeInteger(known) || known < 0) throw new InvalidInputError('DA_BAD_REQUEST', 'content-length is not a byte count');
    if (known > maxPayloadBytes) throw tooLarge(known);
  }
  const sized = known === undefined ? undefined : createBlobPacker(known, maxPayloadBytes);
  const unsized = sized ? undefined : createUnsizedBlobPacker(maxPayloadBytes);
  const commitments: Promise<Uint8Array>[] = [];
  const cells: Promise<BlobCells>[] = [];
  const encode = (index: number, blob: Uint8Array) => {
    // Two jobs on one blob in shared memory, so neither posts a copy: the commitment (queued ahead of every cells
    // job, since together they fix the data root) and the cells.
    const shared = new Uint8Array(new SharedArrayBuffer(blob.length));
    shared.set(blob);
    const commitment = pool.commitBlob(shared);
    const computed = pool.computeCells(shared);
    // A request that fails half way leaves its earlier blobs unawaited; they must not crash the process.
    commitment.catch(() => undefined);
    computed.catch(() => undefined);
    commitments[index] = commitment;
    cells[index] = computed;
  };
  const take = (blobs: Uint8Array[]) => {
    for (const blob of blobs) encode(commitments.length, blob);
  };
  const takeIndexed = (packed: PackedBlob[]) => {
    for (const { index, blob } of packed) encode(index, blob);
  };
  let received = 0;
  const body = c.req.raw.body;
  if (body) {
    for await (const chunk of body) {
      received += chunk.byteLength;
      if (received > maxPayloadBytes) throw tooLarge(received);
      if (sized) take(sized.push(chunk));
      else takeIndexed(unsized!.push(chunk));
    }
  }
  if (sized) take(sized.finish());
  else takeIndexed(unsized!.finish());
  return { payloadSize: received, encoding: { commitments, cells } };
}

/** 413 rather than 400: the size, not the shape, is what is wrong. */
class PayloadTooLarge extends InvalidInputError {}
