import { open } from 'node:fs/promises';
import { createFileHasher, loadKeccak } from '../../protocol/storage/index.ts';
import type { FileTree, Keccak } from '../../protocol/storage/index.ts';
import { InvalidInputError } from '../../protocol/errors.ts';
import { StorageClientErrorCode } from './node-rpc.ts';

export type HashFileParameters = {
  path: string;
  keccak?: Keccak;
  onProgress?: (progress: { done: number; total: number }) => void;
};

export type HashFileReturnType = FileTree;

const READ_SIZE = 1024 * 1024;

/**
 * The 0G Merkle tree of a file on disk: root, segment roots and submission nodes, in one pass
 * over the bytes with constant memory. Two buffers alternate so the next read runs on libuv's
 * thread pool while this thread hashes the previous one.
 */
export async function hashFile(parameters: HashFileParameters): Promise<HashFileReturnType> {
  const keccak = parameters.keccak ?? (await loadKeccak());
  const handle = await open(parameters.path, 'r');
  try {
    const size = (await handle.stat()).size;
    if (size === 0) throw new InvalidInputError(StorageClientErrorCode.emptyFile, `${parameters.path} is empty; 0G storage cannot hold empty files`);
    const hasher = createFileHasher(keccak, size);
    const buffers = [Buffer.allocUnsafe(READ_SIZE), Buffer.allocUnsafe(READ_SIZE)] as const;
    const readAt = (offset: number, which: number) =>
      handle.read(buffers[which]!, 0, Math.min(READ_SIZE, size - offset), offset).then((r) => r.bytesRead);
    let offset = 0;
    let which = 0;
    let reading = readAt(0, which);
    while (offset < size) {
      const bytes = await reading;
      // A file that shrinks under us would otherwise loop forever or hash garbage.
      if (bytes === 0) throw new InvalidInputError(StorageClientErrorCode.invalidInput, `${parameters.path} changed while it was read`);
      const current = buffers[which]!.subarray(0, bytes);
      offset += bytes;
      which ^= 1;
      if (offset < size) reading = readAt(offset, which);
      hasher.update(current);
      parameters.onProgress?.({ done: offset, total: size });
    }
    return hasher.finish();
  } finally {
    await handle.close();
  }
}
