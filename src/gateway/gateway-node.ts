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
import { answerGraphqlDirectly, badGraphqlRequest, graphqlRequestOf, MAX_GRAPHQL_BODY, readIncoming } from './http-direct.ts';
import type { BlockInfo } from './gateway-store.ts';
import type { ChainBlockSource } from './chain-blocks.ts';

export type GatewayOptions = Omit<GatewayServiceOptions, 'dataDir'> & {
  dataDir: string;
  host: string;
  port: number;
  log: Logger;
  storage: BundleStorage;
  /** The chain's latest block (the devnet passes its chain's); items are stamped with it at ingest. */
  blockInfo: () => Promise<BlockInfo>;
  /** Every chain block, for GraphQL `blocks` (the node passes its chain's). */
  chainBlocks?: ChainBlockSource;
};

export type Gateway = Startable & { readonly url: string; readonly service: GatewayService };

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
      const service = createGatewayService(options, { storage: options.storage, blockInfo: options.blockInfo, chainBlocks: options.chainBlocks, log });
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
          const { id, duplicate, nested } = await service.ingest(raw);
          ingested.inc({ outcome: duplicate ? 'duplicate' : 'new' });
          if (nested && !duplicate) ingested.inc({ outcome: 'nested' }, nested);
          return c.json(nested === undefined ? { id } : { id, nested });
        } catch (error) {
          ingested.inc({ outcome: error instanceof LevityError ? error.code : 'error' });
          return fail(c, error);
        }
      };
      const answer = async (c: Context, query: unknown, variables: unknown, operationName: unknown) => {
        const { json, hasData } = await service.graphqlJson(query, variables, operationName);
        return c.body(json, hasData ? 200 : 400, { 'content-type': 'application/json' });
      };
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
      // Served by `answerGraphqlDirectly` over HTTP; this route answers in-process `app.request` callers the same way.
      app.post('/graphql', async (c) => {
        let request: ReturnType<typeof graphqlRequestOf>;
        try {
          request = graphqlRequestOf(await readBody(c, MAX_GRAPHQL_BODY));
        } catch (error) {
          const message = error instanceof LevityError ? error.shortMessage : 'the request body could not be read';
          return c.body(badGraphqlRequest(message), 400, { 'content-type': 'application/json' });
        }
        if ('error' in request) return c.body(request.error, 400, { 'content-type': 'application/json' });
        return answer(c, request.query, request.variables, request.operationName);
      });
      app.get('/graphql', async (c) => {
        const text = c.req.query('variables');
        let variables: unknown;
        try {
          variables = text ? JSON.parse(text) : undefined;
        } catch {
          return c.body(badGraphqlRequest('`variables` is not JSON'), 400, { 'content-type': 'application/json' });
        }
        return answer(c, c.req.query('query'), variables, c.req.query('operationName'));
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
        answerGraphqlDirectly(http.server, (query, variables, operationName) => service.graphqlJson(query, variables, operationName), log);
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
 * The request body, refused as soon as it is known to pass `limit` (see `readIncoming`). Under
 * @hono/node-server the Node request is read directly: wrapping it in a web stream costs more
 * per small item than verifying its signature.
 */
async function readBody(c: Context, limit: number): Promise<Uint8Array> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming && !incoming.readableDidRead) return readIncoming(incoming, limit);
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(Number(declared), limit);
  const stream = c.req.raw.body;
  if (!stream) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(total, limit);
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}
