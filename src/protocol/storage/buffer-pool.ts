/**
 * Reused shared buffers for segment batches, on the node (uploads) and in the client (downloads).
 * Allocating a fresh 4 MiB buffer per batch makes V8 run a full garbage collection every few
 * dozen batches (external memory pressure), which measured as the largest single cost on both
 * sides; taking buffers from here and giving them back avoids that. Shared, so hashing workers
 * read them without a copy or transfer.
 */
const STEP = 1024 * 1024;

export type BufferPool = {
  /** A view of exactly `length` bytes over a (possibly reused, so not zeroed) shared buffer. */
  take(length: number): Uint8Array<SharedArrayBuffer>;
  /** Hands a view's buffer back; nothing may use the view afterwards. */
  give(view: Uint8Array<SharedArrayBuffer>): void;
};

/** `maxFree` buffers of each size are kept; more are left to the garbage collector. */
export function createBufferPool(options: { maxFree: number }): BufferPool {
  const free = new Map<number, SharedArrayBuffer[]>();
  return {
    take(length) {
      const capacity = Math.max(STEP, Math.ceil(length / STEP) * STEP);
      const buffer = free.get(capacity)?.pop() ?? new SharedArrayBuffer(capacity);
      return new Uint8Array(buffer, 0, length);
    },
    give(view) {
      const buffer = view.buffer;
      const list = free.get(buffer.byteLength) ?? [];
      free.set(buffer.byteLength, list);
      if (list.length < options.maxFree && !list.includes(buffer)) list.push(buffer);
    },
  };
}
