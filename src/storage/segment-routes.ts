/**
 * Levity's own segment routes, beside the 0G JSON-RPC on the same port: batches of consecutive
 * segments as octet streams (segment-batch.ts) instead of base64 in JSON, one request per batch.
 * Levity clients probe `GET /levity/v1/info` and fall back to JSON-RPC where it is missing, so
 * 0G's node and SDK never see these. Bad input is a typed 4xx JSON error, as on every role.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Hono } from 'hono';
import { InvalidInputError } from '../protocol/errors.ts';
import { MAX_BATCH_SEGMENTS, SEGMENT_BATCH_CONTENT_TYPE, SEGMENT_SIZE } from '../protocol/storage/index.ts';
import { createBufferPool } from '../protocol/storage/buffer-pool.ts';
import type { BufferPool } from '../protocol/storage/buffer-pool.ts';
import type { StorageService } from './storage-service.ts';

export const SEGMENT_ROUTES_PROTOCOL = { protocol: 'levity-storage', version: 1 } as const;

/** A full batch plus room for its header and proofs. */
const MAX_BATCH_BYTES = MAX_BATCH_SEGMENTS * SEGMENT_SIZE + 1024 * 1024;

function uintParam(name: string, raw: string | undefined): number {
  const value = raw !== undefined && /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value)) {
    throw new InvalidInputError('STORAGE_INVALID_PARAMS', `${name} must be a non-negative integer`, { meta: { param: name, value: raw } });
  }
  return value;
}

/** `ArrayBuffer.prototype.transfer` (ES2024; the project's TypeScript lib stops at ES2023). */
type Detachable = ArrayBuffer & { transfer?: (length?: number) => ArrayBuffer };

/**
 * Frees a body chunk's memory now instead of at some later garbage collection. Node's HTTP
 * parser copies each piece of a body (up to 64 KiB) into a buffer of its own; V8 counts those as
 * external memory and, a few dozen megabytes later, answers with a full collection of the whole
 * heap: two per 64 MiB uploaded to a devnet, a fifth of the node's CPU. A chunk already copied
 * is detached (the collector does nothing at all then), if it owns its whole buffer.
 */
function discard(chunk: Buffer): void {
  const buffer = chunk.buffer;
  if (!(buffer instanceof ArrayBuffer) || chunk.byteOffset !== 0 || chunk.byteLength !== buffer.byteLength) return;
  try {
    (buffer as Detachable).transfer?.(0);
  } catch {
    // not detachable (a pooled buffer): the collector frees it as before
  }
}

/**
 * The body, read once into a buffer of its declared length. Hono's own body reading (and its
 * body-limit middleware) goes through a web stream and copies the bytes twice more, which at a
 * few hundred MB/s costs more than the hashing; on Node's server the socket is read directly.
 */
async function readBody(c: Context, length: number, buffers: BufferPool): Promise<Uint8Array<SharedArrayBuffer>> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  const view = buffers.take(length);
  try {
    if (!incoming) {
      const body = new Uint8Array(await c.req.arrayBuffer());
      if (body.length !== length) throw new InvalidInputError('STORAGE_BODY_LENGTH', `body is ${body.length} bytes, content-length says ${length}`);
      view.set(body);
      return view;
    }
    // 'data' events, not async iteration: a promise per 64 KiB chunk measured as a quarter of
    // the node's time reading a body.
    await new Promise<void>((resolve, reject) => {
      let offset = 0;
      const onData = (chunk: Buffer) => {
        if (offset + chunk.length > length) {
          incoming.off('data', onData);
          incoming.resume();
          reject(new InvalidInputError('STORAGE_BODY_LENGTH', `body is longer than its content-length ${length}`));
          return;
        }
        view.set(chunk, offset);
        offset += chunk.length;
        // Only when no one else is handed the same chunk.
        if (incoming.listenerCount('data') === 1) discard(chunk);
      };
      incoming.on('data', onData);
      incoming.once('end', () => {
        if (offset === length) resolve();
        else reject(new InvalidInputError('STORAGE_BODY_LENGTH', `body ended after ${offset} of ${length} bytes`));
      });
      incoming.once('error', reject);
      incoming.once('aborted', () => reject(new InvalidInputError('STORAGE_BODY_ABORTED', 'the client went away before sending the whole body')));
    });
    return view;
  } catch (error) {
    buffers.give(view);
    throw error;
  }
}

/** Full batches a client keeps in flight (its default concurrency), whose buffers `warm` readies. */
const WARM_BATCHES = 8;
/** A full client batch: 16 segments and room for their proofs. */
const WARM_BATCH_BYTES = 16 * SEGMENT_SIZE + 64 * 1024;

/**
 * Mounts the routes; the returned `warm` readies the buffers of one client's worth of batches
 * ahead of the first upload (allocating and faulting in ~40 MiB mid-upload costs it CPU and a
 * full garbage collection, as V8 answers a jump in external memory with one).
 */
export function mountSegmentRoutes(app: Hono, service: StorageService): { warm(): void } {
  // Enough for the batches a few clients keep in flight; beyond that buffers are not kept.
  const buffers = createBufferPool({ maxFree: 16 });
  app.get('/levity/v1/info', (c) => c.json({ ...SEGMENT_ROUTES_PROTOCOL, maxBatchSegments: MAX_BATCH_SEGMENTS, shard: service.shard }));

  /** Stores a batch once every segment in it passes the node's checks; answers how far the file is. */
  app.post('/levity/v1/tx/:seq/segments', async (c) => {
    const seq = uintParam('seq', c.req.param('seq'));
    const length = Number(c.req.header('content-length'));
    if (c.req.header('transfer-encoding') !== undefined || !Number.isSafeInteger(length)) {
      throw new InvalidInputError('STORAGE_LENGTH_REQUIRED', 'a segment batch needs a content-length (no chunked encoding)');
    }
    if (length > MAX_BATCH_BYTES) {
      return c.json({ error: { code: 'HTTP_BODY_TOO_LARGE', message: `request body over ${MAX_BATCH_BYTES} bytes`, meta: { maxBytes: MAX_BATCH_BYTES } } }, 413);
    }
    const body = await readBody(c, length, buffers);
    try {
      return c.json(await service.uploadSegmentBatch(seq, body));
    } finally {
      buffers.give(body);
    }
  });

  /** Segments first … first+count-1 with their proofs, all of which this node must hold. */
  app.get('/levity/v1/tx/:seq/segments', async (c) => {
    const seq = uintParam('seq', c.req.param('seq'));
    const first = uintParam('first', c.req.query('first'));
    const count = uintParam('count', c.req.query('count') ?? '1');
    if (count < 1 || count > MAX_BATCH_SEGMENTS) {
      throw new InvalidInputError('STORAGE_INVALID_PARAMS', `count must be 1..${MAX_BATCH_SEGMENTS}`, { meta: { param: 'count', value: count } });
    }
    const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
    // The buffer goes back to the pool once the socket is done with it; without Node's server
    // (in-process requests) nobody says when, so it is left to the garbage collector.
    const body = await service.downloadSegmentBatch(seq, first, count, outgoing ? (n) => buffers.take(n) : undefined);
    if (outgoing && body.buffer instanceof SharedArrayBuffer) outgoing.once('close', () => buffers.give(body as Uint8Array<SharedArrayBuffer>));
    return c.body(body as Uint8Array<ArrayBuffer>, 200, { 'content-type': SEGMENT_BATCH_CONTENT_TYPE });
  });
  return { warm: () => buffers.reserve(WARM_BATCHES, WARM_BATCH_BYTES) };
}
