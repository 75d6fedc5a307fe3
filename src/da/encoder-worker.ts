/**
 * One encoder thread: loads the KZG trusted setup once at start (≈ 2.7 s, so the pool starts every worker at
 * creation), then turns blobs into a commitment, 128 cells and 128 proofs. Results go back by transfer: c-kzg
 * allocates each cell and proof in its own ArrayBuffer, so nothing is copied on the way out.
 */
import { parentPort } from 'node:worker_threads';
import { isLevityError } from '../protocol/errors.ts';
import { blobCommitment, computeCellsAndProofs, loadKzgSetup } from '../protocol/da/kzg.ts';

export type EncodeRequest = { id: number; blob: Uint8Array };

export type EncoderReply =
  | { type: 'ready'; loadMs: number }
  | { type: 'done'; id: number; commitment: Uint8Array; cells: Uint8Array[]; proofs: Uint8Array[] }
  | { type: 'failed'; id: number; code: string; message: string };

const port = parentPort;
if (port) {
  const started = performance.now();
  loadKzgSetup(); // a failure here kills the worker before 'ready'; the pool counts that as a start failure
  port.postMessage({ type: 'ready', loadMs: performance.now() - started } satisfies EncoderReply);

  port.on('message', ({ id, blob }: EncodeRequest) => {
    try {
      const commitment = blobCommitment(blob);
      const { cells, proofs } = computeCellsAndProofs(blob);
      const out = [commitment, ...cells, ...proofs].map(ownBuffer);
      const reply: EncoderReply = {
        type: 'done',
        id,
        commitment: out[0]!,
        cells: out.slice(1, 1 + cells.length),
        proofs: out.slice(1 + cells.length),
      };
      port.postMessage(reply, out.map((bytes) => bytes.buffer as ArrayBuffer));
    } catch (error) {
      const code = isLevityError(error) ? error.code : 'DA_ENCODER_FAILED';
      const message = error instanceof Error ? error.message : String(error);
      port.postMessage({ type: 'failed', id, code, message } satisfies EncoderReply);
    }
  });
}

/** Transferring a view's ArrayBuffer moves all of it; a view that does not own its buffer is copied first. */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}
