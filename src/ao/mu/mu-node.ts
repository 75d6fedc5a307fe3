/**
 * The Messenger Unit as a role (spec ao.md §3.1, §5): the HTTP surface aoconnect talks to,
 * wired to the SU and CU over HTTP, a durable crank queue and cron monitors on disk, and a wallet
 * that signs everything the MU pushes (processes trust it through `Authority=<address>`).
 */
import { join } from 'node:path';
import { bodyLimit } from 'hono/body-limit';
import { Counter, Gauge } from 'prom-client';
import { InvalidInputError, LevityError } from '../../protocol/errors.ts';
import { createRoleApp, listen } from '../../shared/http.ts';
import type { RunningHttpServer } from '../../shared/http.ts';
import type { Startable } from '../../shared/lifecycle.ts';
import type { Logger } from '../../shared/log.ts';
import { loadOrCreateWallet } from '../wallet.ts';
import { createCrankQueue, createCrankWorkers } from './crank-queue.ts';
import type { RetryPolicy } from './crank-queue.ts';
import { createCrank, isPermanentCrankError } from './crank.ts';
import type { CrankJob } from './crank.ts';
import { createMonitor } from './monitor.ts';
import { createMuService } from './mu-service.ts';
import { httpCuClient, httpSuClient } from '../unit-clients.ts';

/** The reference SU and MU take bodies up to 10 MiB. */
export const MU_MAX_BODY_BYTES = 10 * 1024 * 1024;

export type MuOptions = {
  dataDir: string;
  host: string;
  port: number;
  log: Logger;
  suUrl: string;
  cuUrl: string;
  /**
   * Unused for now: the SU writes everything it schedules (the MU's pushes included) through
   * to the gateway, processes before it answers, so the MU posting there too would only double
   * the traffic. Accepted so every AO role takes the same wiring.
   */
  gatewayUrl?: string;
  /** How often monitored processes are polled for cron output (the reference waits 10 s). */
  cronPollMs?: number;
  /** Crank retry backoff; defaults in crank-queue.ts. */
  retry?: Partial<RetryPolicy>;
  /** Crank jobs run at once. */
  workers?: number;
  /** Monitor processes with a Cron-Interval as soon as they exist (default true). */
  autoMonitorCron?: boolean;
  /** Limit for one CU request (`/result` waits for evaluation). */
  cuTimeoutMs?: number;
};

export type Mu = Startable & { readonly url: string; readonly address: string };

export function createMu(options: MuOptions): Mu {
  const log = options.log.child({ role: 'mu' });
  let running: { http: RunningHttpServer; address: string; stop: () => Promise<void> } | undefined;

  const current = () => {
    if (!running) throw new LevityError('MU_NOT_STARTED', 'the MU is not running');
    return running;
  };

  return {
    get url() {
      return current().http.url;
    },
    get address() {
      return current().address;
    },

    async start() {
      const wallet = await loadOrCreateWallet(join(options.dataDir, 'wallet.json'));
      const su = httpSuClient(options.suUrl);
      const cu = httpCuClient(options.cuUrl, options.cuTimeoutMs === undefined ? {} : { timeoutMs: options.cuTimeoutMs });
      const dbPath = join(options.dataDir, 'mu.sqlite');
      const queue = createCrankQueue<CrankJob>({ path: dbPath, ...(options.retry ? { retry: options.retry } : {}) });
      const { app, metrics } = createRoleApp({
        role: 'mu',
        log,
        health: () => ({ address: wallet.address, queue: queue.counts(), monitored: monitor.list().length }),
      });
      const delivered = new Counter({ name: 'levity_mu_items_total', help: 'Items accepted', labelNames: ['type'], registers: [metrics] });
      const pushed = new Counter({ name: 'levity_mu_pushed_total', help: 'Items the MU pushed', labelNames: ['kind'], registers: [metrics] });
      const settled = new Counter({ name: 'levity_mu_crank_jobs_total', help: 'Crank job attempts by outcome', labelNames: ['outcome'], registers: [metrics] });
      new Gauge({
        name: 'levity_mu_crank_queue',
        help: 'Crank jobs by state',
        labelNames: ['state'],
        registers: [metrics],
        collect() {
          for (const [state, n] of Object.entries(queue.counts())) this.set({ state }, n);
        },
      });

      let processCreated: (processId: string, tags: readonly { name: string; value: string }[]) => void = () => undefined;
      const crank = createCrank({
        su,
        cu,
        signer: wallet.signer,
        log,
        onProcessCreated: (processId, tags) => processCreated(processId, tags),
        onPushed: (kind) => pushed.inc({ kind }),
      });
      const workers = createCrankWorkers<CrankJob>({
        queue,
        log,
        handle: (job, context) => crank.handle(job, context),
        isPermanent: isPermanentCrankError,
        ...(options.workers === undefined ? {} : { concurrency: options.workers }),
        onSettled: (outcome) => settled.inc({ outcome }),
      });
      const monitor = createMonitor({
        path: dbPath,
        cu,
        log,
        pollMs: options.cronPollMs ?? 1_000,
        enqueue: (jobs) => {
          if (queue.push(...jobs) > 0) workers.wake();
        },
      });
      new Gauge({
        name: 'levity_mu_monitored_processes',
        help: 'Processes whose cron output the MU pushes',
        registers: [metrics],
        collect() {
          this.set(monitor.list().length);
        },
      });
      const service = createMuService(
        options.autoMonitorCron === undefined ? {} : { autoMonitorCron: options.autoMonitorCron },
        { su, cu, queue, monitor, log, wake: () => workers.wake(), onDelivered: (type) => delivered.inc({ type }) },
      );
      processCreated = service.processCreated;

      const body = async (request: Request) => new Uint8Array(await request.arrayBuffer());
      const tooLarge = bodyLimit({
        maxSize: MU_MAX_BODY_BYTES,
        onError: (c) => c.json({ error: { code: 'MU_BODY_TOO_LARGE', message: `request body over ${MU_MAX_BODY_BYTES} bytes` } }, 413),
      });

      app.get('/', (c) => c.json({ name: 'ao messenger unit', address: wallet.address, timestamp: Date.now() }));
      app.post('/', tooLarge, async (c) => {
        const processId = c.req.query('process-id');
        const assign = c.req.query('assign');
        if (processId !== undefined || assign !== undefined) {
          if (!processId || !assign) {
            throw new InvalidInputError('MU_ASSIGN_INCOMPLETE', 'an assignment needs both process-id and assign', {
              meta: { processId: processId ?? null, assign: assign ?? null },
            });
          }
          const exclude = c.req.query('exclude')?.split(',');
          const baseLayer = c.req.query('base-layer') !== undefined;
          return c.json(await service.assign(processId, assign, { baseLayer, ...(exclude ? { exclude } : {}) }), 202);
        }
        return c.json(await service.deliver(await body(c.req.raw)), 202);
      });
      app.post('/monitor/:pid', tooLarge, async (c) => {
        await service.monitor(await body(c.req.raw), c.req.param('pid'));
        return c.text('Monitoring process', 200);
      });
      app.delete('/monitor/:pid', tooLarge, async (c) => {
        await service.unmonitor(await body(c.req.raw), c.req.param('pid'));
        return c.text('Deleted process monitor', 200);
      });
      app.post('/push/:id/:number', async (c) => {
        const number = c.req.param('number');
        const processId = c.req.query('process-id') ?? '';
        const answer = await service.push(c.req.param('id'), /^\d+$/.test(number) ? Number(number) : -1, processId);
        return c.json(answer, 202);
      });

      const closeAll = async () => {
        await monitor.stop();
        await workers.stop();
        queue.close();
      };
      let http: RunningHttpServer;
      try {
        http = await listen(app, options.host, options.port);
      } catch (error) {
        await closeAll();
        throw error;
      }
      workers.start();
      monitor.start();
      running = {
        http,
        address: wallet.address,
        stop: async () => {
          await http.close();
          await closeAll();
        },
      };
      log.info({ url: http.url, address: wallet.address, su: su.url, cu: cu.url, pending: queue.counts().pending }, 'mu ready');
    },

    async stop() {
      const current = running;
      running = undefined;
      await current?.stop();
    },
  };
}
