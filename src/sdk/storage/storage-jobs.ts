/**
 * What a storage client hashing thread does (storage-worker.ts starts it). Two jobs, both pure
 * CPU over bytes it is given or reads itself: the roots of a run of whole segments of a file
 * (upload), and the verification of a downloaded segment batch (download), read in place from
 * shared memory. Nothing is copied between threads: roots come back transferred.
 */
import { open } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../../protocol/errors.ts';
import { loadKeccak, loadSegmentHasher, zeroTable } from '../../protocol/storage/index.ts';
import { hashSegmentRun } from './hash-segments.ts';
import { verifyBatch } from './verify-batch.ts';
import { WORKER_READY } from './storage-pool.ts';
import type { StorageJob, StorageReply } from './storage-pool.ts';

const keccak = await loadKeccak();
const zero = zeroTable(keccak);
const hasher = await loadSegmentHasher();

// Jobs run one at a time: a hash job awaits its reads, and the next must not overwrite the
// hasher's input meanwhile.
let queue = Promise.resolve();

parentPort!.on('message', (job: StorageJob) => {
  queue = queue.then(() => run(job).then(([reply, transfer]) => parentPort!.postMessage(reply, transfer)));
});
parentPort!.postMessage(WORKER_READY);

function run(job: StorageJob): Promise<[StorageReply, ArrayBuffer[]]> {
  return (async (): Promise<[StorageReply, ArrayBuffer[]]> => {
    if (job.kind === 'hash') {
      try {
        const handle = await open(job.path, 'r');
        const roots = await hashSegmentRun(hasher, handle, job.path, job.first, job.count).finally(() => handle.close());
        return [{ id: job.id, roots: roots.buffer }, [roots.buffer]];
      } catch (error) {
        return [{ id: job.id, error: errorMessage(error) }, []];
      }
    }
    try {
      const { roots, dataOffset } = verifyBatch(keccak, hasher, zero, new Uint8Array(job.body, job.offset, job.length), job.expect);
      return [{ id: job.id, roots: roots.buffer, dataOffset }, [roots.buffer]];
    } catch (error) {
      return [{ id: job.id, error: errorMessage(error) }, []];
    }
  })();
}
