import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { Counter, Gauge } from 'prom-client';
import { isTxId } from '../protocol/ans104/index.ts';
import { LevityError, NotFoundError } from '../protocol/errors.ts';
import { createRoleApp, errorResponse, listen } from '../shared/http.ts';
import type { RunningHttpServer } from '../shared/http.ts';
import type { Startable } from '../shared/lifecycle.ts';
import type { Logger } from '../shared/log.ts';
import type { BundleStorage } from './bundle-storage.ts';
import { createGatewayService, defaultGatewayServiceOptions, tooLarge } from './gateway-service.ts';
import type { GatewayService, GatewayServiceOptions } from './gateway-service.ts';
import type { BlockInfo } from './gateway-store.ts';
import type { GraphqlResponse } from './graphql-schema.ts';

export type GatewayOptions = Omit<GatewayServiceOptions, 'dataDir'> & {
  dataDir: string;
  host: string;
  port: number;
  log: Logger;
  storage: BundleStorage;
  /** The chain's latest block (the devnet passes its chain's); items are stamped with it at ingest. */
  blockInfo: () => Promise<BlockInfo>;
};

export type Gateway = Startable & { readonly url: string; readonly service: GatewayService };

/** GraphQL requests are a few hundred bytes; anything near this is not a query. */
const MAX_GRAPHQL_BODY = 1024 * 1024;

/**
 * The gateway role: signed ANS-104 items in (`POST /tx`, `POST /`), their data out by id
 * (`GET /raw/:id`, `GET /:id`), metadata (`GET /tx/:id`), Arweave GraphQL (`/graphql`) and
 * `GET /info`. Bad input is a 4xx with a typed code; GraphQL errors are GraphQL errors.
 */
export function createGateway(options: GatewayOptions): Gateway {
  const log = options.log.child({ role: 'gateway' });
  let running: { http: RunningHttpServer; service: GatewayService } | undefined;
  const needRunning = () => {
    if (!running) throw new LevityError('GATEWAY_NOT_STARTED', 'the gateway is not running');
    return running;
  };

  return {
    get url() {
      return needRunning().http.url;
    },
    get service() {
      return needRunning().service;
    },

    async start() {
      const service = createGatewayService(options, { storage: options.storage, blockInfo: options.blockInfo, log });
      const maxItemBytes = options.maxItemBytes ?? defaultGatewayServiceOptions.maxItemBytes;
      const { app, metrics } = createRoleApp({ role: 'gateway', log, health: () => service.stats() });
      const ingested = new Counter({ name: 'levity_gateway_items_total', help: 'Items posted, by outcome', labelNames: ['outcome'], registers: [metrics] });
      new Gauge({
        name: 'levity_gateway_pending_items',
        help: 'Items accepted but not yet in a stored bundle',
        registers: [metrics],
        collect() {
          this.set(service.stats().pendingItems);
        },
      });

      const fail = (c: Context, error: unknown) => {
        if (error instanceof LevityError && error.code === 'GATEWAY_TOO_LARGE') return c.json({ error: error.toJSON() }, 413);
        return errorResponse(c, error, log);
      };
      const postItem = async (c: Context) => {
        try {
          const raw = await readBody(c, maxItemBytes);
          const { id, duplicate } = await service.ingest(raw);
          ingested.inc({ outcome: duplicate ? 'duplicate' : 'new' });
          return c.json({ id });
        } catch (error) {
          ingested.inc({ outcome: error instanceof LevityError ? error.code : 'error' });
          return fail(c, error);
        }
      };
      const answer = (c: Context, response: GraphqlResponse) => c.json(response, 'data' in response ? 200 : 400);
      const itemId = (c: Context) => {
        const id = c.req.param('id') ?? '';
        if (!isTxId(id)) throw new NotFoundError('GATEWAY_ITEM_NOT_FOUND', `no data item ${id.slice(0, 64)} on this gateway`, { meta: { id: id.slice(0, 64) } });
        return id;
      };
      const data = async (c: Context) => {
        try {
          const { data: bytes, contentType } = await service.itemData(itemId(c));
          return c.body(bytes as Uint8Array<ArrayBuffer>, 200, { 'content-type': contentType ?? 'application/octet-stream' });
        } catch (error) {
          return fail(c, error);
        }
      };
      const info = async (c: Context) => c.json(await service.info());

      app.post('/tx', postItem);
      app.post('/', postItem);
      app.post('/graphql', async (c) => {
        let body: unknown;
        try {
          body = JSON.parse(new TextDecoder().decode(await readBody(c, MAX_GRAPHQL_BODY)));
        } catch (error) {
          const message = error instanceof LevityError ? error.shortMessage : 'the body is not JSON';
          return c.json({ errors: [{ message, extensions: { code: 'GATEWAY_BAD_GRAPHQL_REQUEST' } }] }, 400);
        }
        const { query, variables, operationName } = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
        return answer(c, await service.graphql(query, variables, operationName));
      });
      app.get('/graphql', async (c) => {
        const text = c.req.query('variables');
        let variables: unknown;
        try {
          variables = text ? JSON.parse(text) : undefined;
        } catch {
          return c.json({ errors: [{ message: '`variables` is not JSON', extensions: { code: 'GATEWAY_BAD_GRAPHQL_REQUEST' } }] }, 400);
        }
        return answer(c, await service.graphql(c.req.query('query'), variables, c.req.query('operationName')));
      });
      app.get('/info', info);
      app.get('/', info);
      app.get('/tx/:id', async (c) => {
        try {
          return c.json(service.itemMeta(itemId(c)));
        } catch (error) {
          return fail(c, error);
        }
      });
      app.get('/raw/:id', data);
      app.get('/:id', data);

      let http: RunningHttpServer;
      try {
        http = await listen(app, options.host, options.port);
      } catch (error) {
        await service.close();
        throw error;
      }
      running = { http, service };
      log.info({ url: http.url, ...service.stats() }, 'gateway ready');
    },

    async stop() {
      const current = running;
      running = undefined;
      if (!current) return;
      await current.http.close();
      await current.service.close();
    },
  };
}

/**
 * The request body, refused as soon as it is known to pass `limit`: at once when Content-Length
 * says so, otherwise as soon as the bytes read pass it, so an oversized body is never held whole.
 * Under @hono/node-server the Node request is read directly: wrapping it in a web stream costs
 * more per small item than verifying its signature.
 */
async function readBody(c: Context, limit: number): Promise<Uint8Array> {
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(Number(declared), limit);
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  const chunks: Uint8Array[] = [];
  let total = 0;
  const take = (chunk: Uint8Array) => {
    total += chunk.length;
    if (total > limit) throw tooLarge(total, limit);
    chunks.push(chunk);
  };
  if (incoming && !incoming.readableDidRead) {
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        try {
          take(chunk);
        } catch (error) {
          incoming.off('data', onData).pause();
          reject(error);
        }
      };
      incoming.on('data', onData);
      incoming.once('end', resolve);
      incoming.once('error', reject);
    });
  } else {
    const stream = c.req.raw.body;
    if (!stream) return new Uint8Array(0);
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      try {
        take(value);
      } catch (error) {
        await reader.cancel().catch(() => undefined);
        throw error;
      }
    }
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
