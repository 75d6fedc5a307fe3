import { join } from 'node:path';
import type { Context } from 'hono';
import { z } from 'zod';
import { InvalidInputError } from '../../protocol/errors.ts';
import { isTxId } from '../../protocol/ans104/index.ts';
import type { AoMessage } from '../../protocol/ao/types.ts';
import { createRoleApp, listen } from '../../shared/http.ts';
import type { RunningHttpServer } from '../../shared/http.ts';
import type { Startable } from '../../shared/lifecycle.ts';
import type { Logger } from '../../shared/log.ts';
import { rawBodyLimit } from '../../shared/raw-body.ts';
import { loadOrCreateWallet } from '../wallet.ts';
import { createCuService } from './cu-service.ts';
import type { CuService } from './cu-service.ts';
import { sqliteCuStore } from './cu-store.ts';
import type { CuStore } from './cu-store.ts';
import { createModuleLoader, gatewayItemData } from './module-loader.ts';
import type { CuLimits } from './process-runner.ts';
import { httpGatewayBlocks, httpSuClient } from '../unit-clients.ts';

const MAX_DRY_RUN_BYTES = 1024 * 1024;

export const defaultCuLimits: CuLimits = {
  maxMemoryBytes: 1024 * 1024 * 1024,
  maxInstructions: 1_000_000_000,
  defaultMemoryBytes: 256 * 1024 * 1024,
  defaultInstructions: 100_000_000,
};

export type CuNodeOptions = {
  dataDir: string;
  host: string;
  port: number;
  log: Logger;
  suUrl: string;
  gatewayUrl: string;
  limits?: Partial<CuLimits>;
  maxLiveProcesses?: number;
  resultTimeoutMs?: number;
  checkpointEvery?: number;
};

export type CuNode = Startable & { readonly url: string; readonly address: string };

const tagSchema = z.object({ name: z.string(), value: z.string() });
/** aoconnect's dry-run body; extra keys pass through to the process like any message field. */
const dryRunSchema = z.looseObject({
  Id: z.string().optional(),
  Signature: z.string().optional(),
  Owner: z.string().optional(),
  Target: z.string().optional(),
  Anchor: z.string().optional(),
  Data: z.string().optional(),
  Tags: z.array(tagSchema).max(1000).optional(),
  Timestamp: z.number().optional(),
  'Block-Height': z.number().optional(),
});

/**
 * The compute unit: evaluates processes from the SU log with live Lua VMs and serves their
 * results the way aoconnect reads them (spec ao.md §3.3). `/result` blocks until evaluated.
 */
export function createCu(options: CuNodeOptions): CuNode {
  const log = options.log.child({ role: 'cu' });
  let running: { http: RunningHttpServer; store: CuStore; service: CuService; address: string } | undefined;

  function routes(service: CuService, address: string) {
    const { app } = createRoleApp({ role: 'cu', log });
    app.get('/', (c) => c.json({ address, timestamp: Date.now() }));
    app.get('/result/:id', async (c) => c.json(await service.result(processIdParam(c), idParam(c.req.param('id'), 'message id'))));
    app.get('/results/:pid', (c) => {
      const sort = c.req.query('sort')?.toUpperCase() ?? 'ASC';
      if (sort !== 'ASC' && sort !== 'DESC') throw new InvalidInputError('CU_BAD_PARAM', 'sort must be ASC or DESC', { meta: { sort } });
      return c.json(
        service.results(idParam(c.req.param('pid'), 'process id'), {
          from: c.req.query('from'),
          to: c.req.query('to'),
          sort,
          limit: intParam(c, 'limit'),
        }),
      );
    });
    app.get('/cron/:pid', async (c) =>
      c.json(
        await service.cron(idParam(c.req.param('pid'), 'process id'), {
          from: c.req.query('from'),
          to: c.req.query('to'),
          limit: intParam(c, 'limit'),
        }),
      ),
    );
    app.post('/dry-run', rawBodyLimit(MAX_DRY_RUN_BYTES), async (c) => {
      const processId = processIdParam(c);
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        throw new InvalidInputError('CU_BAD_DRY_RUN', 'the dry-run body is not JSON');
      }
      const parsed = dryRunSchema.safeParse(body);
      if (!parsed.success) {
        throw new InvalidInputError('CU_BAD_DRY_RUN', 'the dry-run body is not a message', {
          details: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '),
        });
      }
      return c.json(await service.dryRun(processId, parsed.data as Partial<AoMessage>));
    });
    app.get('/state/:pid', async (c) => {
      const state = await service.state(idParam(c.req.param('pid'), 'process id'));
      const headers = {
        'content-type': 'application/octet-stream',
        'Last-Ordinate': String(state.ordinate),
        'Last-Nonce': String(state.nonce),
        'Last-Timestamp': String(state.timestamp),
        'Last-Block-Height': String(state.blockHeight),
        'Levity-State-Hash': state.hash,
      };
      if (c.req.query('format') === 'json') {
        const { snapshot: _snapshot, ...report } = state;
        return c.json(report);
      }
      return c.body(state.snapshot.slice().buffer as ArrayBuffer, 200, headers);
    });
    return app;
  }

  return {
    get url() {
      if (!running) throw new Error('cu not started');
      return running.http.url;
    },
    get address() {
      if (!running) throw new Error('cu not started');
      return running.address;
    },
    async start() {
      const wallet = await loadOrCreateWallet(join(options.dataDir, 'wallet.json'));
      const store = sqliteCuStore(join(options.dataDir, 'cu.sqlite'));
      const service = createCuService({
        su: httpSuClient(options.suUrl),
        modules: createModuleLoader({ gatewayUrl: options.gatewayUrl, cacheDir: join(options.dataDir, 'modules') }),
        itemData: gatewayItemData(options.gatewayUrl),
        blocks: httpGatewayBlocks(options.gatewayUrl),
        store,
        checkpointDir: join(options.dataDir, 'checkpoints'),
        limits: { ...defaultCuLimits, ...options.limits },
        log,
        maxLiveProcesses: options.maxLiveProcesses,
        resultTimeoutMs: options.resultTimeoutMs,
        checkpointEvery: options.checkpointEvery,
      });
      try {
        const http = await listen(routes(service, wallet.address), options.host, options.port);
        running = { http, store, service, address: wallet.address };
        log.info({ url: http.url }, 'compute unit listening');
      } catch (error) {
        store.close();
        throw error;
      }
    },
    async stop() {
      const current = running;
      running = undefined;
      if (!current) return;
      await current.http.close();
      // Checkpoints every live process, so a restart resumes without replaying.
      await current.service.stop();
      current.store.close();
    },
  };
}

function idParam(value: string | undefined, name: string): string {
  if (!value || !isTxId(value)) throw new InvalidInputError('CU_BAD_ID', `${name} must be a 43-character base64url id`, { meta: { value } });
  return value;
}

function processIdParam(c: Context): string {
  const value = c.req.query('process-id');
  if (!value) throw new InvalidInputError('CU_MISSING_PROCESS_ID', 'the process-id query parameter is required');
  return idParam(value, 'process-id');
}

function intParam(c: Context, name: string): number | undefined {
  const value = c.req.query(name);
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,9}$/.test(value)) throw new InvalidInputError('CU_BAD_PARAM', `${name} must be a positive integer`, { meta: { [name]: value } });
  return Number(value);
}
