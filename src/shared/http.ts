import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { ConflictError, LevityError, errorMessage } from '../protocol/errors.ts';
import type { Logger } from './log.ts';

export type HealthReport = { status: 'ok' | 'degraded' | 'down' } & Record<string, unknown>;

export type RoleAppOptions = {
  role: string;
  log: Logger;
  /** Role-specific health facts; `status` defaults to ok. */
  health?: () => Promise<Partial<HealthReport>> | Partial<HealthReport>;
  metrics?: Registry;
};

/** HTTP status for a typed error: the one place errors map to statuses. */
export function httpStatusFor(error: unknown): 400 | 404 | 409 | 502 | 504 | 500 {
  if (!(error instanceof LevityError)) return 500;
  switch (error.name) {
    case 'InvalidInputError':
      return 400;
    case 'NotFoundError':
      return 404;
    case 'ConflictError':
      return 409;
    case 'UpstreamError':
      return 502;
    case 'TimeoutError':
      return 504;
    default:
      return 500;
  }
}

/** A new metrics registry for one role, labelled with it, with process metrics included. */
export function roleMetrics(role: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry, prefix: 'levity_' });
  return registry;
}

/**
 * The Hono app every role starts from: `GET /health`, Prometheus `GET /metrics`, and an
 * error handler that answers typed errors with their code and never leaks a stack.
 */
export function createRoleApp(options: RoleAppOptions): { app: Hono; metrics: Registry } {
  const metrics = options.metrics ?? roleMetrics(options.role);
  const startedAt = Date.now();
  const app = new Hono();
  app.get('/health', async (c) => {
    const extra = (await options.health?.()) ?? {};
    const body = { status: 'ok', role: options.role, uptimeS: Math.round((Date.now() - startedAt) / 1000), ...extra };
    return c.json(body, body.status === 'down' ? 503 : 200);
  });
  app.get('/metrics', async (c) => {
    return c.body(await metrics.metrics(), 200, { 'content-type': metrics.contentType });
  });
  app.notFound((c) => c.json({ error: { code: 'HTTP_NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}` } }, 404));
  app.onError((error, c) => errorResponse(c, error, options.log));
  return { app, metrics };
}

export function errorResponse(c: Context, error: unknown, log: Logger): Response {
  const status = httpStatusFor(error);
  if (status === 500) log.error({ err: error }, 'request failed');
  const body =
    error instanceof LevityError
      ? { error: error.toJSON() }
      : { error: { code: 'INTERNAL', message: status === 500 ? 'internal error' : errorMessage(error) } };
  return c.json(body, status);
}

export type RunningHttpServer = {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
};

/**
 * Listens on host:port (0 = OS-assigned) and resolves once bound. `close` ends open
 * keep-alive and upgraded connections too, so a stop never hangs on an idle client.
 */
export async function listen(app: Hono, host: string, port: number): Promise<RunningHttpServer> {
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  await new Promise<void>((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new ConflictError('HTTP_PORT_IN_USE', `port ${port} on ${host} is already in use`, {
              details: 'stop whatever holds it, or pick another --port-base',
              meta: { host, port },
            })
          : error,
      );
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    server,
    port: bound,
    url: `http://${urlHost}:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The port of role `offset` for a port base; 0 stays 0 so every role gets its own free port. */
export function rolePort(portBase: number, offset: number): number {
  return portBase === 0 ? 0 : portBase + offset;
}
