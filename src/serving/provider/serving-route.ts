/**
 * The paid endpoints straight on the node server, ahead of the Hono app: every billed request pays
 * the broker's latency, and the framework's share of it (a web Request built from the node one, its
 * body read through a web stream, routing, middleware, a web Response written back) was about a
 * tenth of a millisecond a request. Here the headers are node's own object, the body is read as
 * buffers, and the answer is written with one writeHead and one end. Every other path, and any other
 * method on these, goes on to the app unchanged.
 */
import { Buffer } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LevityError } from '../../protocol/errors.ts';
import { BILLING_HEADERS } from '../../protocol/serving/billing.ts';
import type { HeaderSource } from '../../protocol/serving/billing.ts';
import type { Logger } from '../../shared/log.ts';
import type { NodeRoute } from '../../shared/route-first.ts';
import type { ServingRequestKind } from './openai-request.ts';
import { errorReply } from './serving-handler.ts';
import type { ReplySink, ServingHandler, ServingReply } from './serving-handler.ts';

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

const ROUTES: Readonly<Record<string, ServingRequestKind>> = { '/v1/chat/completions': 'chat', '/v1/completions': 'completion' };

export type ServingRouteOptions = {
  handler: ServingHandler;
  log: Logger;
  maxBodyBytes?: number;
  /** Called once per answer with its route and status (a stream: the status it started with). */
  answered?(route: string, status: number): void;
};

export function createServingRoute(options: ServingRouteOptions): NodeRoute {
  const { handler, log } = options;
  const maxBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const tooLarge = () =>
    errorReply(new LevityError('SERVING_BODY_TOO_LARGE', `The request body is over ${maxBytes} bytes`, { meta: { maxBytes } }), log);

  const send = (route: string, res: ServerResponse, reply: ServingReply) => {
    try {
      write(route, res, reply);
    } catch (error) {
      // Never an unhandled rejection: the request is lost, the server goes on.
      log.error({ err: error, route }, 'writing a serving answer failed');
      res.destroy();
    }
  };
  const write = (route: string, res: ServerResponse, reply: ServingReply) => {
    options.answered?.(route, reply.status);
    if ('body' in reply) {
      // The client is gone (a 499, or it left while this was made): nothing to write to.
      if (res.destroyed) return;
      res.writeHead(reply.status, { ...reply.headers, 'content-length': String(Buffer.byteLength(reply.body)) });
      res.end(reply.body);
      return;
    }
    if (!res.destroyed) res.writeHead(reply.status, reply.headers);
    const sink: ReplySink = {
      write(text) {
        if (!res.destroyed && !res.writableEnded) res.write(text);
      },
      end() {
        if (!res.destroyed && !res.writableEnded) res.end();
      },
    };
    // Opened even for a client already gone: the stream's work charges or releases its hold.
    reply.stream(sink);
  };

  return (req, res) => {
    if (req.method !== 'POST') return false;
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const route = query === -1 ? url : url.slice(0, query);
    const kind = ROUTES[route];
    if (kind === undefined) return false;

    const gone = new AbortController();
    const leave = () => {
      if (!res.writableFinished) gone.abort(new Error('the client closed the connection'));
    };
    res.once('close', leave);
    // A body cut off mid-way: the client is gone (and the error is handled, whatever node does with it).
    req.on('error', leave);
    const refuse = () => {
      // The rest of the body is read and dropped, so the connection stays usable for the next request.
      req.removeAllListeners('data');
      req.resume();
      send(route, res, tooLarge());
    };
    const declared = Number(req.headers['content-length']);
    if (declared > maxBytes) {
      refuse();
      return true;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        refused = true;
        return refuse();
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      if (refused) return;
      let body = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
      // As a web Request's text() would: a leading byte-order mark is not part of the JSON.
      if (body.charCodeAt(0) === 0xfeff) body = body.slice(1);
      handler.serve(kind, { headers: billingHeadersOf(req), body, signal: gone.signal }).then(
        (reply) => send(route, res, reply),
        (error: unknown) => send(route, res, errorReply(error, log)),
      );
    });
    return true;
  };
}

const BILLING_HEADER_NAMES = Object.values(BILLING_HEADERS).map((name) => name.toLowerCase());

/** Just the billing headers (node has lower-cased every name): the claim parser looks each one up among all it is given. */
function billingHeadersOf(req: IncomingMessage): HeaderSource {
  const picked: Record<string, string | string[] | undefined> = {};
  for (const name of BILLING_HEADER_NAMES) picked[name] = req.headers[name];
  return picked;
}
