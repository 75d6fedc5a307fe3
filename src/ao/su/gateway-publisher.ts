import { UpstreamError, errorMessage } from '../../protocol/errors.ts';
import type { Logger } from '../../shared/log.ts';
import type { SuStore } from './su-store.ts';

export type GatewayPublisherOptions = {
  store: SuStore;
  gatewayUrl: string;
  log: Logger;
  /** Retry pace while the gateway is unreachable. */
  retryMs?: number;
};

export type GatewayPublisher = ReturnType<typeof createGatewayPublisher>;

const BATCH = 256;
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Drains the SU's durable gateway outbox: every scheduled item and assignment is written
 * through to the gateway, in order, and retried until the gateway has it. Processes are
 * flushed before the SU answers, so a client can locate a process as soon as it is spawned.
 */
export function createGatewayPublisher(options: GatewayPublisherOptions) {
  const { store, log } = options;
  const base = options.gatewayUrl.replace(/\/+$/, '');
  const retryMs = options.retryMs ?? 1000;
  let flushing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  async function post(raw: Uint8Array): Promise<void> {
    const response = await fetch(`${base}/tx`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: raw,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    // A 4xx means the gateway will never take it (it already has it, or refuses it): move on.
    if (response.status >= 500) throw new UpstreamError('SU_GATEWAY_FAILED', `gateway answered ${response.status}`);
    if (!response.ok) log.warn({ status: response.status, body: await response.text() }, 'gateway refused an item');
    else await response.body?.cancel();
  }

  async function drain(): Promise<void> {
    for (;;) {
      const backlog = store.gatewayBacklog(BATCH);
      if (backlog.length === 0) return;
      for (const entry of backlog) {
        await post(entry.raw);
        store.gatewayDone(entry.seq);
      }
    }
  }

  function flushOnce(): Promise<void> {
    flushing ??= drain().finally(() => {
      flushing = undefined;
    });
    return flushing;
  }

  function schedule(): void {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      flushOnce().catch((error: unknown) => {
        log.warn({ err: errorMessage(error) }, 'gateway write-through failed; retrying');
        schedule();
      });
    }, retryMs);
    timer.unref();
  }

  return {
    start(): void {
      stopped = false;
      schedule();
    },
    /** Writes the backlog through; `wait` makes the caller wait for it (errors are retried later either way). */
    async flush(wait: boolean): Promise<void> {
      const done = flushOnce();
      if (!wait) {
        done.catch(() => schedule());
        return;
      }
      try {
        await done;
      } catch (error) {
        schedule();
        log.warn({ err: errorMessage(error) }, 'gateway write-through failed; the item is queued');
      }
    },
    /** The signed bytes of an item the gateway holds, for assignments of items this SU never saw. */
    async fetchItem(id: string): Promise<Uint8Array | undefined> {
      const response = await fetch(`${base}/tx/${id}/raw`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }).catch(() => undefined);
      if (!response?.ok) return undefined;
      return new Uint8Array(await response.arrayBuffer());
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await flushing?.catch(() => undefined);
    },
  };
}
