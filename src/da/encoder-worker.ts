/**
 * One encoder thread: loads the KZG trusted setup once at start (≈ 2.7 s, so the pool starts every worker at
 * creation), then runs jobs on blobs: the commitment alone (~50 ms: a dispersal needs every commitment first, to
 * know its data root and custody), the 128 cells and proofs alone (~220 ms), or both.
 *
 * A result goes back as one transferred buffer (commitment ‖ cells ‖ proofs, 262 KiB): c-kzg hands out each cell
 * and proof in its own ArrayBuffer, and 257 buffers a blob, tens of thousands for a large payload, cost the main
 * thread more in transfer and garbage collection than the ~30 µs copy into one buffer costs here.
 *
 * Jobs may be queued here ahead of time (the pool posts the next job before this one ends, so a busy main thread
 * never leaves this thread idle); a job that finds the pool's shared `cancel` flag set is answered without work,
 * so closing the pool does not wait for queued jobs.
 */
import { parentPort } from 'node:worker_threads';
import { isLevityError } from '../protocol/errors.ts';
import { blobCommitment, computeCellsAndProofs, loadKzgSetup } from '../protocol/da/kzg.ts';

export type EncodeJobKind = 'encode' | 'commit' | 'cells';

export type EncodeRequest = { id: number; kind?: EncodeJobKind; blob: Uint8Array; cancel?: Int32Array };

export type EncoderReply =
  | { type: 'ready'; loadMs: number }
  | {
      type: 'done';
      id: number;
      /** CPU milliseconds this thread spent in c-kzg for the job. */
      ms: number;
      /** The commitment (48 B) if the job computed it, then the 128 cells and the 128 proofs if it computed those. */
      packed: Uint8Array;
      commitment: boolean;
      cells: boolean;
    }
  | { type: 'failed'; id: number; code: string; message: string };

const port = parentPort;
if (port) {
  const started = performance.now();
  loadKzgSetup(); // a failure here kills the worker before 'ready'; the pool counts that as a start failure
  port.postMessage({ type: 'ready', loadMs: performance.now() - started } satisfies EncoderReply);

  port.on('message', ({ id, kind = 'encode', blob, cancel }: EncodeRequest) => {
    if (cancel && Atomics.load(cancel, 0) !== 0) {
      port.postMessage({ type: 'failed', id, code: 'DA_ENCODER_CLOSED', message: 'the pool closed before this job started' } satisfies EncoderReply);
      return;
    }
    try {
      // CPU time of this thread, not wall time: on a shared machine the two differ by whatever else ran.
      const t0 = process.threadCpuUsage();
      const commitment = kind === 'cells' ? undefined : blobCommitment(blob);
      const computed = kind === 'commit' ? undefined : computeCellsAndProofs(blob);
      const used = process.threadCpuUsage(t0);
      const parts = [...(commitment ? [commitment] : []), ...(computed?.cells ?? []), ...(computed?.proofs ?? [])];
      const packed = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
      let at = 0;
      for (const part of parts) {
        packed.set(part, at);
        at += part.length;
      }
      const reply: EncoderReply = { type: 'done', id, ms: (used.user + used.system) / 1000, packed, commitment: !!commitment, cells: !!computed };
      port.postMessage(reply, [packed.buffer]);
    } catch (error) {
      const code = isLevityError(error) ? error.code : 'DA_ENCODER_FAILED';
      const message = error instanceof Error ? error.message : String(error);
      port.postMessage({ type: 'failed', id, code, message } satisfies EncoderReply);
    }
  });
}
