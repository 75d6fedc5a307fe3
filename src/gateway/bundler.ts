import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeBundle } from '../protocol/ans104/index.ts';
import { UpstreamError, errorMessage } from '../protocol/errors.ts';
import type { Logger } from '../shared/log.ts';
import { bundleIdOf } from './bundle-storage.ts';
import type { BundleStorage } from './bundle-storage.ts';
import type { GatewayStore } from './gateway-store.ts';

export type BundlerOptions = {
  /** Local bundle cache; `tmp/` under it holds files being built or fetched. */
  dir: string;
  intervalMs: number;
  maxBytes: number;
  /** Longest wait between retries after failed uploads. */
  maxBackoffMs?: number;
};

export type BundlerDeps = { store: GatewayStore; storage: BundleStorage; log: Logger; now: () => number };

export type Bundler = {
  /** Told after each commit: may start a bundle early when enough bytes wait. */
  added(bytes: number): void;
  /** Bundles everything pending now (tests, shutdown drills). */
  flush(): Promise<void>;
  /** `length` bytes at `offset` of a stored bundle, from the local copy or fetched back from storage. */
  read(root: string, offset: number, length: number): Promise<Uint8Array>;
  stop(): Promise<void>;
};

/** ANS-104 bundle header: a 32-byte count, then 64 bytes (size, id) per item. */
const headerSize = (items: number) => 32 + 64 * items;
const STOP_WAIT_MS = 5000;

/**
 * Packs pending items into ANS-104 bundles, puts each in storage, and only then records where
 * every item sits and drops it from the pending area, in one commit. A crash anywhere before
 * that commit leaves the items pending, so they are bundled again after restart: nothing
 * acknowledged is lost, and a bundle stored twice is the same content, so the same root.
 */
export function createBundler(options: BundlerOptions, deps: BundlerDeps): Bundler {
  const { store, storage, log } = deps;
  const tmp = join(options.dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  let pendingBytes = store.pendingStats().bytes;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  let stopped = false;
  const fetching = new Map<string, Promise<void>>();
  const cachePath = (root: string) => join(options.dir, `${root}.bundle`);

  // Leftovers from a crash: half-built or half-fetched files are never referenced.
  for (const name of readdirSync(tmp)) rmSync(join(tmp, name), { force: true });

  const bundleOnce = async (): Promise<boolean> => {
    const batch = store.pendingBatch(options.maxBytes);
    if (batch.length === 0) return false;
    const bytes = encodeBundle(batch.map((item) => item.raw));
    const placements: { seq: number; offset: number }[] = [];
    let offset = headerSize(batch.length);
    for (const item of batch) {
      placements.push({ seq: item.seq, offset });
      offset += item.raw.length;
    }
    const building = join(tmp, `${randomUUID()}.bundle`);
    await mkdir(tmp, { recursive: true });
    await writeFile(building, bytes);
    let root: string;
    try {
      ({ root } = await storage.put(building));
    } catch (error) {
      await rm(building, { force: true });
      throw error;
    }
    await rename(building, cachePath(root));
    if (stopped) return false; // the store may be closed; the items stay pending for the next start
    await store.addBundle({ root, id: bundleIdOf(root), size: bytes.length, createdMs: deps.now() }, placements);
    pendingBytes = Math.max(0, pendingBytes - batch.reduce((sum, item) => sum + item.raw.length, 0));
    log.debug({ root, items: batch.length, bytes: bytes.length }, 'bundle stored');
    return true;
  };

  const run = (drain: boolean): Promise<void> => {
    if (running) return running.then(() => (drain ? run(true) : undefined));
    running = (async () => {
      try {
        while (!stopped && (await bundleOnce()) && (drain || pendingBytes >= options.maxBytes));
        failures = 0;
      } catch (error) {
        failures++;
        log.warn({ err: error, failures }, 'bundling failed; items stay pending and will be retried');
        if (drain) throw error;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  const schedule = () => {
    if (stopped) return;
    const delay = Math.min(maxBackoffMs, options.intervalMs * 2 ** Math.min(failures, 16));
    timer = setTimeout(() => void run(false).finally(schedule), delay);
    timer.unref();
  };
  schedule();

  const fetchBundle = (root: string): Promise<void> => {
    let pending = fetching.get(root);
    if (!pending) {
      pending = (async () => {
        const out = join(tmp, `${randomUUID()}.fetch`);
        try {
          await mkdir(tmp, { recursive: true }); // someone may have cleared the whole cache
          await storage.get(root, out);
          await rename(out, cachePath(root));
        } catch (error) {
          await rm(out, { force: true });
          throw new UpstreamError('GATEWAY_BUNDLE_UNAVAILABLE', `cannot fetch bundle ${root} from storage`, {
            details: errorMessage(error),
            meta: { root },
            cause: error,
          });
        }
      })().finally(() => fetching.delete(root));
      fetching.set(root, pending);
    }
    return pending;
  };

  const readLocal = async (root: string, offset: number, length: number): Promise<Uint8Array | undefined> => {
    const handle = await open(cachePath(root), 'r').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (!handle) return undefined;
    try {
      const out = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(out, 0, length, offset);
      if (bytesRead !== length) return undefined; // a truncated cache file: fetch a whole one
      return new Uint8Array(out.buffer, out.byteOffset, length);
    } finally {
      await handle.close();
    }
  };

  return {
    added(bytes) {
      pendingBytes += bytes;
      if (pendingBytes >= options.maxBytes && !running) void run(false);
    },
    flush: () => run(true),
    async read(root, offset, length) {
      const local = await readLocal(root, offset, length);
      if (local) return local;
      // A truncated local copy is replaced by the rename that lands the fetched one.
      await fetchBundle(root);
      const fetched = await readLocal(root, offset, length);
      if (!fetched) throw new UpstreamError('GATEWAY_BUNDLE_CORRUPT', `bundle ${root} from storage is shorter than the index says`, { meta: { root, offset, length } });
      return fetched;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      const current = running;
      if (current) {
        let wait: NodeJS.Timeout | undefined;
        await Promise.race([current.catch(() => undefined), new Promise((resolve) => (wait = setTimeout(resolve, STOP_WAIT_MS)))]);
        clearTimeout(wait);
      }
    },
  };
}
