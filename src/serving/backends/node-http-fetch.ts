/**
 * The slice of `fetch` the proxy backend uses (a URL, method, string body, headers, an abort signal),
 * over node:http(s) with a keep-alive agent. The proxy makes one upstream round trip per served
 * request, and undici's fetch spends about 0.1 ms more on each than node:http does (its Request,
 * body and header machinery), on every request the provider bills. Redirects are refused, as the
 * proxy asked of fetch; compressed answers are inflated, as fetch does; a request that meets a kept-alive
 * connection the upstream has just closed is sent once more, on a new connection.
 */
import { Buffer } from 'node:buffer';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage, RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { urlToHttpOptions } from 'node:url';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/** What the proxy backend calls: fetch narrowed to a URL string and an init. */
export type UpstreamFetch = (url: string, init: RequestInit) => Promise<Response>;

/** A request whose whole answer is wanted as text (JSON calls): no web Response, no web stream. */
export type UpstreamTextRequest = { method: string; headers: Readonly<Record<string, string>>; body?: string; signal?: AbortSignal };
export type UpstreamTextAnswer = { status: number; text: string };
export type UpstreamText = (url: string, init: UpstreamTextRequest) => Promise<UpstreamTextAnswer>;

export type NodeHttpFetch = {
  fetch: UpstreamFetch;
  /**
   * The same request, answered with its status and its whole (inflated) body as UTF-8 text. What a
   * JSON call needs, without the web Response and stream machinery: tens of microseconds less per call.
   */
  text: UpstreamText;
  close(): void;
};

type Target = { secure: boolean; options: RequestOptions };

export function createNodeHttpFetch(): NodeHttpFetch {
  const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
  // A proxy calls a handful of URLs over and over: each is parsed once.
  const targets = new Map<string, Target>();
  const targetOf = (url: string): Target => {
    const known = targets.get(url);
    if (known) return known;
    const parsed = new URL(url);
    const secure = parsed.protocol === 'https:';
    if (!secure && parsed.protocol !== 'http:') throw new TypeError(`unsupported protocol ${parsed.protocol}`);
    const target: Target = { secure, options: { ...urlToHttpOptions(parsed), agent: secure ? agents.https : agents.http } };
    if (targets.size >= 64) targets.delete(targets.keys().next().value!);
    targets.set(url, target);
    return target;
  };

  /**
   * Sends one request and hands its answer (a redirect refused, errors before it rejected) to
   * `answer`; a request that meets a kept-alive connection the upstream has just closed is sent once
   * more, on a new connection.
   */
  const send = <T>(url: string, method: string, headers: Record<string, string>, body: string | undefined, signal: AbortSignal | undefined, answer: (res: IncomingMessage, status: number) => T | Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      let target: Target;
      try {
        target = targetOf(url);
      } catch (error) {
        return reject(error);
      }
      if (signal?.aborted) return reject(signal.reason);
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      const request = target.secure ? httpsRequest : httpRequest;

      const attempt = (retry: boolean) => {
        const req = request({ ...target.options, method, headers });
        let answered = false;
        const onAbort = () => req.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
        signal?.addEventListener('abort', onAbort, { once: true });
        req.once('close', () => signal?.removeEventListener('abort', onAbort));
        // `on`, not `once`: a second error must not go unhandled. Errors after the answer reach its body.
        req.on('error', (error: NodeJS.ErrnoException) => {
          signal?.removeEventListener('abort', onAbort);
          if (answered) return;
          answered = true;
          // The upstream closed an idle kept-alive connection as this request went out, so it never saw it (Node's own advice).
          if (retry && req.reusedSocket && error.code === 'ECONNRESET' && !signal?.aborted) return attempt(false);
          reject(error);
        });
        req.once('response', (res) => {
          answered = true;
          const status = res.statusCode ?? 0;
          if (status >= 300 && status < 400 && res.headers.location !== undefined) {
            res.resume();
            reject(new TypeError(`unexpected redirect to ${res.headers.location}`));
            return;
          }
          try {
            resolve(answer(res, status));
          } catch (error) {
            reject(error);
          }
        });
        req.end(body);
      };
      attempt(true);
    });

  const fetch: UpstreamFetch = (url, init) => {
    const body = init.body;
    if (body !== undefined && body !== null && typeof body !== 'string') return Promise.reject(new TypeError('only string bodies are supported'));
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => {
      headers[key] = value;
    });
    return send(url, init.method ?? 'GET', headers, body ?? undefined, init.signal ?? undefined, (res, status) => {
      const responseHeaders = new Headers();
      for (const [key, value] of Object.entries(res.headers)) {
        if (value === undefined) continue;
        for (const one of Array.isArray(value) ? value : [value]) responseHeaders.append(key, one);
      }
      // A null-body status must not be given a body.
      const empty = status === 204 || status === 205 || status === 304 || init.method === 'HEAD';
      if (empty) res.resume();
      const stream = empty ? null : (Readable.toWeb(inflated(res)) as ReadableStream<Uint8Array>);
      return new Response(stream, { status, statusText: res.statusMessage ?? '', headers: responseHeaders });
    });
  };

  const text: UpstreamText = (url, init) =>
    send(url, init.method, { ...init.headers }, init.body, init.signal, (res, status) =>
      new Promise<UpstreamTextAnswer>((resolve, reject) => {
        const stream = inflated(res);
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        // `on`: a decoder and the message may both fail; a second error must not go unhandled.
        stream.on('error', reject);
        stream.once('end', () => {
          // A connection dropped mid-body ends the answer short: that is an error, not a shorter text.
          if (!res.complete) return reject(new Error('the upstream closed the connection mid-answer'));
          resolve({ status, text: (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8') });
        });
      }),
    );

  return {
    fetch,
    text,
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

function inflated(res: IncomingMessage): Readable {
  const encoding = String(res.headers['content-encoding'] ?? '').trim().toLowerCase();
  const decoder = encoding === 'gzip' || encoding === 'x-gzip' ? createGunzip() : encoding === 'br' ? createBrotliDecompress() : encoding === 'deflate' ? createInflate() : undefined;
  if (!decoder) return res;
  res.once('error', (error) => decoder.destroy(error));
  return res.pipe(decoder);
}
