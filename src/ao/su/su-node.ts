import { join } from 'node:path';
import type { Context } from 'hono';
import { InvalidInputError, NotFoundError } from '../../protocol/errors.ts';
import { isTxId } from '../../protocol/ans104/index.ts';
import { padBlockHeight } from '../../protocol/ao/index.ts';
import { createRoleApp, listen } from '../../shared/http.ts';
import type { RunningHttpServer } from '../../shared/http.ts';
import type { Startable } from '../../shared/lifecycle.ts';
import type { Logger } from '../../shared/log.ts';
import { rawBodyLimit } from '../../shared/raw-body.ts';
import { loadOrCreateWallet } from '../wallet.ts';
import { createGatewayPublisher } from './gateway-publisher.ts';
import type { GatewayPublisher } from './gateway-publisher.ts';
import { createSuService } from './su-service.ts';
import type { SuService } from './su-service.ts';
import { suMessage, suPage, suProcess } from './su-shapes.ts';
import { sqliteSuStore } from './su-store.ts';
import type { SuStore } from './su-store.ts';

/** The reference SU's body limit. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
/** How long a Scheduler-Location record tells clients to cache this SU's URL. */
const LOCATION_TTL_MS = 3_600_000;

export type SuNodeOptions = {
  dataDir: string;
  host: string;
  port: number;
  log: Logger;
  /** The gateway every process, message and assignment is also written to. */
  gatewayUrl: string;
  blockHeight: () => Promise<number>;
  /** The URL clients should use for this SU, when it differs from the listening one. */
  publicUrl?: string;
};

export type SuNode = Startable & { readonly url: string; readonly address: string };

/**
 * The scheduler unit: orders each process's messages into nonce slots with a hash chain,
 * makes every slot durable before answering, writes it through to the gateway, and serves
 * the schedule back in pages (spec ao.md §3.2).
 */
export function createSu(options: SuNodeOptions): SuNode {
  const log = options.log.child({ role: 'su' });
  let running: { http: RunningHttpServer; store: SuStore; publisher: GatewayPublisher; address: string } | undefined;

  function routes(service: SuService, store: SuStore, address: string) {
    const { app } = createRoleApp({ role: 'su', log });
    app.get('/', (c) => c.json({ timestamp: String(service.timestamp()), address }));
    app.get('/timestamp', async (c) => {
      const { timestamp, blockHeight } = await service.clock();
      return c.json({ timestamp: String(timestamp), block_height: padBlockHeight(blockHeight) });
    });
    app.post('/', rawBodyLimit(MAX_BODY_BYTES), async (c) => {
      const processId = c.req.query('process-id');
      const assign = c.req.query('assign');
      if (processId !== undefined || assign !== undefined) {
        if (!processId || !assign) {
          throw new InvalidInputError('SU_BAD_ASSIGN', 'an assignment needs both process-id and assign');
        }
        const exclude = c.req.query('exclude')?.split(',').filter(Boolean);
        const result = await service.assignExisting(checkId(processId, 'process-id'), checkId(assign, 'assign'), { exclude });
        return c.json({ timestamp: result.timestamp, id: result.id });
      }
      const body = new Uint8Array(await c.req.arrayBuffer());
      const result = await service.schedule(body);
      return c.json({ timestamp: result.timestamp, id: result.id });
    });
    app.get('/processes/:pid', (c) => {
      const process = store.process(c.req.param('pid'));
      if (!process) throw processNotFound(c.req.param('pid'));
      return c.json(suProcess(process));
    });
    app.get('/:id/latest', (c) => {
      const slot = store.latest(c.req.param('id'));
      if (!slot) throw processNotFound(c.req.param('id'));
      return c.json(suMessage(slot));
    });
    app.get('/:id', (c) => readById(c, store));
    return app;
  }

  /** A process id answers its schedule in pages; a message or assignment id answers that slot. */
  function readById(c: Context, store: SuStore) {
    const id = c.req.param('id')!;
    const processId = c.req.query('process-id') ?? id;
    const showAnchor = c.req.query('show-anchor') !== undefined;
    if (processId === id) {
      if (!store.process(id)) throw processNotFound(id);
      const limit = Math.min(intParam(c, 'limit') ?? DEFAULT_PAGE, MAX_PAGE);
      const fromNonce = intParam(c, 'from-nonce');
      const toNonce = intParam(c, 'to-nonce');
      if (fromNonce !== undefined || toNonce !== undefined) {
        // from-nonce is exclusive like `from`, so the last cursor pages on (-1 includes the process).
        const slots = store.slots({ processId: id, limit: limit + 1, fromNonce: (fromNonce ?? -1) + 1, toNonce });
        return c.json(suPage(slots, limit, (slot) => String(slot.nonce), showAnchor));
      }
      const slots = store.slots({ processId: id, limit: limit + 1, fromTimestamp: intParam(c, 'from'), toTimestamp: intParam(c, 'to') });
      return c.json(suPage(slots, limit, (slot) => String(slot.timestamp), showAnchor));
    }
    const slot = store.slotOf(processId, id);
    if (!slot) {
      throw new NotFoundError('SU_MESSAGE_NOT_FOUND', `no message or assignment ${id} in process ${processId}`, {
        meta: { id, processId },
      });
    }
    return c.json(suMessage(slot, showAnchor));
  }

  return {
    get url() {
      if (!running) throw new Error('su not started');
      return running.http.url;
    },
    get address() {
      if (!running) throw new Error('su not started');
      return running.address;
    },
    async start() {
      const wallet = await loadOrCreateWallet(join(options.dataDir, 'wallet.json'));
      const store = sqliteSuStore(join(options.dataDir, 'su.sqlite'));
      const publisher = createGatewayPublisher({ store, gatewayUrl: options.gatewayUrl, log });
      try {
        const service = createSuService({
          store,
          signer: wallet.signer,
          blockHeight: options.blockHeight,
          publish: (urgent) => publisher.flush(urgent),
          fetchItem: (id) => publisher.fetchItem(id),
        });
        const http = await listen(routes(service, store, wallet.address), options.host, options.port);
        running = { http, store, publisher, address: wallet.address };
        publisher.start();
        await service.publishOwn([
          { name: 'Data-Protocol', value: 'ao' },
          { name: 'Variant', value: 'ao.TN.1' },
          { name: 'Type', value: 'Scheduler-Location' },
          { name: 'Url', value: options.publicUrl ?? http.url },
          { name: 'Time-To-Live', value: String(LOCATION_TTL_MS) },
        ]);
        log.info({ url: http.url, address: wallet.address }, 'scheduler unit listening');
      } catch (error) {
        await running?.http.close();
        await publisher.stop();
        store.close();
        running = undefined;
        throw error;
      }
    },
    async stop() {
      const current = running;
      running = undefined;
      if (!current) return;
      await current.http.close();
      await current.publisher.stop();
      current.store.close();
    },
  };
}

function processNotFound(processId: string): NotFoundError {
  return new NotFoundError('SU_PROCESS_NOT_FOUND', `process ${processId} is not scheduled here`, { meta: { processId } });
}

function checkId(value: string, name: string): string {
  if (!isTxId(value)) throw new InvalidInputError('SU_BAD_ID', `${name} must be a 43-character base64url id`, { meta: { [name]: value } });
  return value;
}

function intParam(c: Context, name: string): number | undefined {
  const value = c.req.query(name);
  if (value === undefined || value === '') return undefined;
  if (!/^-?\d{1,16}$/.test(value)) {
    throw new InvalidInputError('SU_BAD_PARAM', `${name} must be an integer`, { meta: { [name]: value } });
  }
  return Number(value);
}
