/**
 * Levity's binary segment routes (a Levity storage node serves them beside 0G's JSON-RPC):
 * segment batches as octet streams, one request per batch. `isLevityNode` tells whether a node
 * has them, so callers fall back to JSON-RPC on 0G's own node.
 *
 * Requests go through node:http rather than fetch: fetch copies a request body twice and reads
 * a response through a web stream, which at these sizes costs more CPU than the hashing does.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { UpstreamError, errorMessage } from '../../protocol/errors.ts';
import { SEGMENT_BATCH_CONTENT_TYPE, SEGMENT_SIZE } from '../../protocol/storage/index.ts';
import { rawGet, UnsupportedAnswerError } from './raw-get.ts';

/** What a node answers to a stored batch. */
export type BatchUploadAnswer = { stored: number; uploadedSegNum: number; finalized: boolean };

/** An error answer, with the node's own code (`STORAGE_…`) and the HTTP status. */
export type NodeErrorMeta = { url: string; status?: number; nodeCode?: string };

/** Kept-alive connections; idle ones do not hold the process open. */
const agents = { http: new HttpAgent({ keepAlive: true, maxSockets: 64 }), https: new HttpsAgent({ keepAlive: true, maxSockets: 64 }) };

const route = (url: string, path: string) => `${url.replace(/\/+$/, '')}/levity/v1${path}`;

/** One request; the whole answer read into a single buffer (sized by content-length when given). */
type Allocate = (length: number) => Uint8Array<ArrayBufferLike>;
/** Answers other than segment batches are small JSON. */
const SMALL_ANSWER_BYTES = 1024 * 1024;
type Answer = { status: number; type: string; body: Uint8Array<ArrayBufferLike> };

function exchange(url: string, method: 'GET' | 'POST', body: Uint8Array | undefined, headers: Record<string, string>, timeoutMs: number, allocate: Allocate, maxBytes: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const send = secure ? httpsRequest : httpRequest;
    const request = send(
      target,
      {
        method,
        agent: secure ? agents.https : agents.http,
        headers: body ? { ...headers, 'content-length': String(body.length) } : headers,
        signal: AbortSignal.timeout(timeoutMs),
      },
      (response: IncomingMessage) => {
        const declared = Number(response.headers['content-length']);
        if (declared > maxBytes) {
          response.destroy();
          reject(new Error(`answer of ${declared} bytes is larger than expected`));
          return;
        }
        const chunks: Buffer[] = [];
        const ok = (response.statusCode ?? 0) >= 200 && (response.statusCode ?? 0) < 300;
        // Only a successful answer goes into the caller's buffer; errors are small and plain.
        let fixed: Uint8Array<ArrayBufferLike> | undefined = Number.isSafeInteger(declared) ? (ok ? allocate(declared) : new Uint8Array(declared)) : undefined;
        let offset = 0;
        response.on('data', (chunk: Buffer) => {
          if (fixed && offset + chunk.length <= fixed.length) fixed.set(chunk, offset);
          else if (fixed) {
            // Longer than declared: keep everything and let the caller's checks refuse it.
            chunks.push(Buffer.from(fixed.subarray(0, offset)));
            fixed = undefined;
            chunks.push(chunk);
          } else chunks.push(chunk);
          offset += chunk.length;
          if (offset > maxBytes) response.destroy(new Error('answer larger than expected'));
        });
        response.on('end', () => {
          const whole = fixed ? fixed.subarray(0, offset) : new Uint8Array(Buffer.concat(chunks));
          resolve({ status: response.statusCode ?? 0, type: String(response.headers['content-type'] ?? ''), body: whole });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

const plain: Allocate = (length) => new Uint8Array(length);

async function call(
  url: string,
  what: string,
  method: 'GET' | 'POST',
  body: Uint8Array | undefined,
  headers: Record<string, string>,
  timeoutMs: number,
  allocate = plain,
  maxBytes = SMALL_ANSWER_BYTES,
): Promise<Answer> {
  let answer: Answer;
  try {
    const target = new URL(url);
    // Bulk downloads over plain http skip node:http's per-chunk buffers (see raw-get.ts), unless
    // the server frames its answer in a way that small client does not read.
    const raw =
      method === 'GET' && allocate !== plain && target.protocol === 'http:'
        ? await rawGet(target, allocate, maxBytes, timeoutMs).catch((error: unknown) => {
            if (error instanceof UnsupportedAnswerError) return undefined;
            throw error;
          })
        : undefined;
    answer = raw ? { ...raw, type: '' } : await exchange(url, method, body, headers, timeoutMs, allocate, maxBytes);
  } catch (cause) {
    throw new UpstreamError('STORAGE_NODE_UNREACHABLE', `cannot reach ${url} to ${what}`, { cause, details: errorMessage(cause), meta: { url } satisfies NodeErrorMeta });
  }
  if (answer.status >= 200 && answer.status < 300) return answer;
  const text = Buffer.from(answer.body).toString('utf8');
  let error: { code?: string; message?: string } = {};
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error ?? {};
  } catch {
    // not JSON: the status alone says what happened
  }
  const reason = error.message ?? (text.slice(0, 200) || `HTTP ${answer.status}`);
  throw new UpstreamError('STORAGE_NODE_REFUSED', `${what} failed at ${url}: ${reason}`, {
    meta: { url, status: answer.status, nodeCode: error.code } satisfies NodeErrorMeta,
  });
}

const json = <T>(answer: Answer): T => JSON.parse(Buffer.from(answer.body).toString('utf8')) as T;

/** True when `url` answers Levity's info route with a protocol it speaks; false on anything else. */
export async function isLevityNode(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const info = json<{ protocol?: unknown; version?: unknown }>(await call(route(url, '/info'), 'probe', 'GET', undefined, {}, timeoutMs));
    return info.protocol === 'levity-storage' && info.version === 1;
  } catch {
    return false;
  }
}

/** Sends one encoded batch of tx `seq`; resolves once the node has it durable. */
export async function postSegmentBatch(url: string, seq: number, body: Uint8Array, timeoutMs: number): Promise<BatchUploadAnswer> {
  const headers = { 'content-type': SEGMENT_BATCH_CONTENT_TYPE };
  return json<BatchUploadAnswer>(await call(route(url, `/tx/${seq}/segments`), 'upload a segment batch', 'POST', body, headers, timeoutMs));
}

/**
 * Fetches segments first … first+count-1 of tx `seq` as an encoded batch (not yet verified),
 * into a buffer from `allocate` when the node says how long the answer is.
 */
export async function getSegmentBatch(url: string, seq: number, first: number, count: number, timeoutMs: number, allocate: Allocate = plain): Promise<Uint8Array<ArrayBufferLike>> {
  // The data, plus room for the header and the largest proofs: a node cannot make us allocate more.
  const maxBytes = count * (SEGMENT_SIZE + 2 + 8 + 66 * 32) + 1024;
  const path = `/tx/${seq}/segments?first=${first}&count=${count}`;
  return (await call(route(url, path), 'download a segment batch', 'GET', undefined, {}, timeoutMs, allocate, maxBytes)).body;
}
