/**
 * The DA node's custody and serving routes, mounted on the role app by da-node.ts and on a bare Hono app by tests
 * (which then reach a node through `app.request`, without sockets or a chain).
 *
 *   POST /v1/custody              the whole assignment in one custody request (cell-wire kind 1)
 *   POST /v1/custody/:root        opens or rejoins a streaming session: kind 1 with the header (usually no cells)
 *   POST /v1/custody/:root/cells  some assigned cells of an open session (kind 2)
 *   GET  /v1/blobs/:root          the header of a held root
 *   GET  /v1/blobs/:root/cells    held cells (kind 2), all or those of ?cells=
 */
import type { Context, Hono } from 'hono';
import { encodeCells } from '../../protocol/da/cell-wire.ts';
import { LevityError } from '../../protocol/errors.ts';
import { errorResponse } from '../../shared/http.ts';
import type { Logger } from '../../shared/log.ts';
import { rawBodyLimit } from '../../shared/raw-body.ts';
import type { DaNodeService } from './da-service.ts';

export type DaNodeRoutesOptions = {
  service: DaNodeService;
  log: Logger;
  /** The largest request body (a custody request holding every cell of the largest payload). */
  maxBodyBytes: number;
  /** Custody work in progress: stop() waits for it, since closing the store under a half-done write is a crash. */
  inflight?: Set<Promise<unknown>>;
  /** Told the outcome of every custody request ('ok' or the error code), for metrics. */
  onCustody?: (outcome: string) => void;
};

export function mountDaNodeRoutes(app: Hono, options: DaNodeRoutesOptions): void {
  const { service, log } = options;
  const fail = (c: Context, error: unknown) => errorResponse(c, error, log);
  const custody = async <T extends object>(c: Context, run: (body: Uint8Array) => Promise<T>): Promise<Response> => {
    try {
      const body = new Uint8Array(await c.req.arrayBuffer());
      const work = run(body);
      options.inflight?.add(work);
      void work.catch(() => undefined).finally(() => options.inflight?.delete(work));
      const result = await work;
      options.onCustody?.('ok');
      return c.json(result);
    } catch (error) {
      options.onCustody?.(error instanceof LevityError ? error.code : 'error');
      return fail(c, error);
    }
  };
  const limit = rawBodyLimit(options.maxBodyBytes);

  app.post('/v1/custody', limit, (c) => custody(c, (body) => service.custody(body)));
  app.post('/v1/custody/:root', limit, (c) => custody(c, (body) => service.openCustody(c.req.param('root'), body)));
  app.post('/v1/custody/:root/cells', limit, (c) => custody(c, (body) => service.addCells(c.req.param('root'), body)));
  app.get('/v1/blobs/:root', (c) => {
    try {
      const header = service.header(c.req.param('root'));
      return c.json({ ...header, epoch: header.epoch.toString() });
    } catch (error) {
      return fail(c, error);
    }
  });
  app.get('/v1/blobs/:root/cells', (c) => {
    try {
      const cells = service.cells(c.req.param('root'), c.req.query('cells'));
      return c.body(encodeCells(cells) as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'application/octet-stream' });
    } catch (error) {
      return fail(c, error);
    }
  });
}
