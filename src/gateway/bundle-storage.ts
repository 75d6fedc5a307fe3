import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Hex } from 'viem';
import { NotFoundError } from '../protocol/errors.ts';
import { downloadFile, uploadFile } from '../sdk/storage/index.ts';

/**
 * Where the gateway keeps bundle files for good. `put` returns once the file is durable there
 * and names it by a content root; `get` writes the file with that root to `out` (which must not
 * exist yet).
 */
export type BundleStorage = {
  put(path: string): Promise<{ root: string }>;
  get(root: string, out: string): Promise<void>;
};

export type LevityBundleStorageOptions = {
  /** Storage indexer JSON-RPC URL, or a function giving it when it is known only once the indexer runs. */
  indexer: string | (() => string);
  /** Chain JSON-RPC URL (the Flow contract lives there). */
  rpc: string;
  /** Pays for Flow submissions. */
  privateKey: Hex;
  replicas?: number;
  timeoutMs?: number;
};

/** Bundles in Levity log storage: one Flow submission per bundle, named by its Merkle root. */
export function levityBundleStorage(options: LevityBundleStorageOptions): BundleStorage {
  const indexer = () => (typeof options.indexer === 'function' ? options.indexer() : options.indexer);
  return {
    async put(path) {
      const uploaded = await uploadFile({
        path,
        indexer: indexer(),
        rpc: options.rpc,
        privateKey: options.privateKey,
        replicas: options.replicas,
        timeoutMs: options.timeoutMs,
      });
      return { root: uploaded.root };
    },
    async get(root, out) {
      await downloadFile({ root: root as Hex, out, indexer: indexer(), timeoutMs: options.timeoutMs });
    },
  };
}

/** For tests: a directory of files named by their sha256 (as 0x hex, like a storage root). */
export function dirBundleStorage(dir: string): BundleStorage & { readonly puts: number; readonly gets: number } {
  let puts = 0;
  let gets = 0;
  return {
    get puts() {
      return puts;
    },
    get gets() {
      return gets;
    },
    async put(path) {
      await mkdir(dir, { recursive: true });
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
      const root = `0x${hash.digest('hex')}`;
      const temp = join(dir, `${root}.${process.pid}.${puts}.tmp`);
      await copyFile(path, temp);
      await rename(temp, join(dir, root));
      puts++;
      return { root };
    },
    async get(root, out) {
      gets++;
      const source = join(dir, root);
      if (!(await stat(source).catch(() => undefined))) {
        throw new NotFoundError('GATEWAY_BUNDLE_MISSING', `bundle ${root} is not in ${dir}`, { meta: { root } });
      }
      await copyFile(source, out);
    },
  };
}

/**
 * The 43-char id GraphQL shows for a bundle (`bundledIn`, `parent`): a 32-byte storage root
 * as base64url, the way Arweave ids look; any other root is hashed to 32 bytes first.
 */
export function bundleIdOf(root: string): string {
  const bytes = /^0x[0-9a-fA-F]{64}$/.test(root) ? Buffer.from(root.slice(2), 'hex') : createHash('sha256').update(root).digest();
  return bytes.toString('base64url');
}
