/**
 * A worker thread that decodes and verifies downloaded segments, so that hashing (the bulk of a
 * download's CPU) runs on several cores while the main thread only fetches and writes.
 */
import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../../protocol/errors.ts';
import { loadKeccak, loadSegmentHasher, verifySegment, zeroTable } from '../../protocol/storage/index.ts';
import type { VerifyJob, VerifyResult } from './segment-verifier.ts';

const keccak = await loadKeccak();
const zero = zeroTable(keccak);
const { segmentRoot } = await loadSegmentHasher();

parentPort!.on('message', (job: VerifyJob) => {
  const decoded = Buffer.from(job.data, 'base64');
  // Small buffers share Node's pool slab; only a buffer that owns its memory may be transferred.
  const data = decoded.byteOffset === 0 && decoded.byteLength === decoded.buffer.byteLength ? decoded : new Uint8Array(decoded);
  let answer: VerifyResult;
  try {
    verifySegment(keccak, { root: job.root, data, index: job.index, proof: job.proof, fileSize: job.fileSize, zero, segmentRoot });
    answer = { id: job.id, data };
  } catch (error) {
    answer = { id: job.id, error: errorMessage(error) };
  }
  parentPort!.postMessage(answer, 'data' in answer ? [answer.data.buffer as ArrayBuffer] : []);
});
