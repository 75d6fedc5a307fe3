/**
 * Reused shared buffers for segment batches, on the node (uploads) and in the client (uploads
 * and downloads). Allocating a fresh 4 MiB buffer per batch makes V8 run a full garbage
 * collection every few dozen batches (external memory pressure), which measured as the largest
 * single cost on both sides; taking buffers from here and giving them back avoids that, and so
 * does not touching fresh memory (page faults) for every batch. Shared, so hashing workers read
 * them without a copy or transfer.
 */
const STEP = 1024 * 1024;

export type BufferPool = {
  /**
   * A view of exactly `length` bytes over a (possibly reused, so not zeroed) shared buffer: the
   * smallest free one that is big enough, else a new one.
   */
  take(length: number): Uint8Array<SharedArrayBuffer>;
  /** Hands a view's buffer back; nothing may use the view afterwards. */
  give(view: Uint8Array<SharedArrayBuffer>): void;
  /**
   * Makes sure `count` free buffers of at least `length` bytes are ready, their memory already
   * touched: allocating and faulting in tens of megabytes costs the first transfer otherwise.
   */
  reserve(count: number, length: number): void;
};

/** At most `maxFree` buffers are kept; past that the smallest are left to the garbage collector. */
export function createBufferPool(options: { maxFree: number }): BufferPool {
  /** Free buffers, smallest first. */
  const free: SharedArrayBuffer[] = [];
  const allocate = (length: number) => new SharedArrayBuffer(Math.max(STEP, Math.ceil(length / STEP) * STEP));
  const give = (buffer: SharedArrayBuffer) => {
    if (free.includes(buffer)) return;
    const at = free.findIndex((other) => other.byteLength >= buffer.byteLength);
    free.splice(at < 0 ? free.length : at, 0, buffer);
    if (free.length > options.maxFree) free.shift();
  };
  return {
    take(length) {
      const at = free.findIndex((buffer) => buffer.byteLength >= length);
      const buffer = at >= 0 ? free.splice(at, 1)[0]! : allocate(length);
      return new Uint8Array(buffer, 0, length);
    },
    give: (view) => give(view.buffer),
    reserve(count, length) {
      const missing = Math.min(count, options.maxFree) - free.filter((buffer) => buffer.byteLength >= length).length;
      for (let i = 0; i < missing; i++) {
        const buffer = allocate(length);
        new Uint8Array(buffer).fill(0);
        give(buffer);
      }
    },
  };
}
