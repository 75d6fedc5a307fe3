/**
 * A hashing thread (startSegmentThread in segment-root-pool.ts starts it), for storage nodes and
 * clients alike. It imports only the SIMD hasher and instantiates the module its parent compiled
 * (posted as workerData), so it is ready within milliseconds of starting. Jobs run one at a
 * time: a file job awaits its reads, and the next must not overwrite the hasher's input meanwhile.
 */
import { open } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { simdSegmentHasher } from '../../protocol/storage/simd-segment-hasher.ts';
import type { CompiledModule } from '../../protocol/storage/simd-segment-hasher.ts';
import { ROOT_WORKER_READY, fileRoots, rootsAt } from './segment-root-jobs.ts';
import type { RootJob, RootReply } from './segment-root-jobs.ts';

const hasher = simdSegmentHasher((workerData as { module: CompiledModule }).module);
const port = parentPort!;

async function run(job: RootJob): Promise<Uint8Array<ArrayBuffer>> {
  if (job.kind === 'roots') return rootsAt(hasher, new Uint8Array(job.buffer), job.segments);
  const handle = await open(job.path, 'r');
  try {
    return await fileRoots(hasher, handle, job.path, job.first, job.count);
  } finally {
    await handle.close();
  }
}

let queue = Promise.resolve();
port.on('message', (job: RootJob) => {
  queue = queue.then(async () => {
    let reply: RootReply;
    try {
      const roots = await run(job);
      reply = { id: job.id, roots: roots.buffer };
    } catch (error) {
      reply = { id: job.id, error: error instanceof Error ? error.message : String(error) };
    }
    port.postMessage(reply, 'roots' in reply ? [reply.roots] : []);
  });
});
port.postMessage(ROOT_WORKER_READY);
