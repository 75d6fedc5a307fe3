/**
 * What a storage node's hashing thread does (segment-root-worker.ts starts it): computes the
 * roots of uploaded segments (the costly part of checking them) so the node's event loop only
 * parses, checks proofs and writes. Bodies are in shared memory: read in place, nothing copied
 * between threads.
 */
import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../protocol/errors.ts';
import { loadSegmentHasher } from '../protocol/storage/segment-hasher.ts';
import { ROOT_WORKER_READY } from './segment-root-pool.ts';
import type { RootJob, RootReply } from './segment-root-pool.ts';

const hasher = await loadSegmentHasher();

parentPort!.on('message', (job: RootJob) => {
  let reply: RootReply;
  try {
    const roots = new Uint8Array(32 * job.segments.length);
    job.segments.forEach(({ offset, length, paddedChunks }, i) => {
      roots.set(hasher.segmentRoot(new Uint8Array(job.buffer, offset, length), paddedChunks), 32 * i);
    });
    reply = { id: job.id, roots: roots.buffer };
  } catch (error) {
    reply = { id: job.id, error: errorMessage(error) };
  }
  parentPort!.postMessage(reply, 'roots' in reply ? [reply.roots] : []);
});
parentPort!.postMessage(ROOT_WORKER_READY);
