/**
 * The slice of `fetch` the proxy backend uses (a URL, method, string body, headers, an abort signal),
 * over node:http(s) with a keep-alive agent. The proxy makes one upstream round trip per served
 * request, and undici's fetch spends about 0.1 ms more on each than node:http does (its Request,
 * body and header machinery), on every request the provider bills. Redirects are refused, as the
 * proxy asked of fetch; compressed answers are inflated, as fetch does; a request that meets a kept-alive
 * connection the upstream has just closed is sent once more, on a new connection.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/** What the proxy backend calls: fetch narrowed to a URL string and an init. */
export type UpstreamFetch = (url: string, init: RequestInit) => Promise<Response>;

export type NodeHttpFetch = { fetch: UpstreamFetch; close(): void };

export function createNodeHttpFetch(): NodeHttpFetch {
  const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

  const fetch: UpstreamFetch = (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const target = new URL(url);
      const secure = target.protocol === 'https:';
      if (!secure && target.protocol !== 'http:') return reject(new TypeError(`unsupported protocol ${target.protocol}`));
      const signal = init.signal ?? undefined;
      if (signal?.aborted) return reject(signal.reason);
      const body = init.body;
      if (body !== undefined && body !== null && typeof body !== 'string') return reject(new TypeError('only string bodies are supported'));
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((value, key) => {
        headers[key] = value;
      });
      if (typeof body === 'string') headers['content-length'] = String(Buffer.byteLength(body));
      const send = secure ? httpsRequest : httpRequest;

      const attempt = (retry: boolean) => {
        const req = send(target, { method: init.method ?? 'GET', headers, agent: secure ? agents.https : agents.http });
        let answered = false;
        const onAbort = () => req.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
        signal?.addEventListener('abort', onAbort, { once: true });
        req.once('close', () => signal?.removeEventListener('abort', onAbort));
        // `on`, not `once`: a second error must not go unhandled. Errors after the answer reach its body stream.
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
          const responseHeaders = new Headers();
          for (const [key, value] of Object.entries(res.headers)) {
            if (value === undefined) continue;
            for (const one of Array.isArray(value) ? value : [value]) responseHeaders.append(key, one);
          }
          // A null-body status must not be given a body.
          const empty = status === 204 || status === 205 || status === 304 || init.method === 'HEAD';
          if (empty) res.resume();
          const stream = empty ? null : (Readable.toWeb(inflated(res)) as ReadableStream<Uint8Array>);
          resolve(new Response(stream, { status, statusText: res.statusMessage ?? '', headers: responseHeaders }));
        });
        req.end(typeof body === 'string' ? body : undefined);
      };
      attempt(true);
    });

  return {
    fetch,
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
