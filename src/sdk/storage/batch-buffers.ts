/**
 * The client's segment batch buffers, one pool for the whole process: uploads fill them to send
 * and downloads receive into them (workers hash them in place), so a download after an upload,
 * or the next of either, reuses memory that is already mapped instead of faulting in more.
 *
 * They are slots of one shared WebAssembly memory, whose start is page-aligned (a shared array
 * buffer's start is wherever malloc put it), so a download can place a batch's data on a 4 KiB
 * boundary and write it to disk with O_DIRECT: the kernel then reads it straight from here
 * instead of copying it into the page cache, which on a virtual machine costs more CPU than
 * anything but the hashing. Beyond the arena's slots, plain shared buffers are used.
 */
import { createBufferPool } from '../../protocol/storage/buffer-pool.ts';

/** What O_DIRECT asks of memory, file offsets and lengths (a page: safe on 512-byte and 4Kn disks alike). */
export const DIRECT_ALIGNMENT = 4096;

const MIB = 1024 * 1024;
/** A slot holds a full batch (16 segments and their proofs) and the padding that aligns its data. */
const SLOT_BYTES = 5 * MIB;
const WASM_PAGE = 64 * 1024;
const SLOT_PAGES = SLOT_BYTES / WASM_PAGE;
/** Slots at most (160 MiB): more batches than a few transfers keep in flight. */
const MAX_SLOTS = 32;

/** The slice of the WebAssembly JS API used here (the project's TypeScript libs do not declare it). */
type SharedMemory = { readonly buffer: SharedArrayBuffer; grow(pages: number): number };
type WasmMemoryApi = { Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => SharedMemory };

let arena: SharedMemory | undefined;
let slots = 0;
const freeSlots: number[] = [];
/** Every buffer object the arena has had (growing it hands out a new one over the same memory). */
const arenaBuffers = new WeakSet<SharedArrayBuffer>();
// Batches that do not fit a slot (or past the arena's last one).
const overflow = createBufferPool({ maxFree: 8 });

function slot(): number | undefined {
  const free = freeSlots.pop();
  if (free !== undefined) return free;
  if (slots >= MAX_SLOTS) return undefined;
  try {
    if (!arena) {
      const wasm = (globalThis as unknown as { WebAssembly: WasmMemoryApi }).WebAssembly;
      arena = new wasm.Memory({ initial: SLOT_PAGES, maximum: MAX_SLOTS * SLOT_PAGES, shared: true });
    } else arena.grow(SLOT_PAGES);
  } catch {
    return undefined;
  }
  arenaBuffers.add(arena.buffer);
  return slots++;
}

/**
 * A buffer of exactly `length` bytes (possibly reused, so not zeroed), placed so that byte
 * `alignAt` of it is aligned in memory when it can be (isAligned tells).
 */
export function takeBatch(length: number, alignAt = 0): Uint8Array<SharedArrayBuffer> {
  const pad = (DIRECT_ALIGNMENT - (alignAt % DIRECT_ALIGNMENT)) % DIRECT_ALIGNMENT;
  const at = pad + length <= SLOT_BYTES ? slot() : undefined;
  if (at === undefined) return overflow.take(length);
  return new Uint8Array(arena!.buffer, at * SLOT_BYTES + pad, length);
}

/** Whether `view[offset]` is known to sit on a DIRECT_ALIGNMENT boundary in memory. */
export function isAligned(view: Uint8Array<ArrayBufferLike>, offset: number): boolean {
  const buffer = view.buffer;
  return buffer instanceof SharedArrayBuffer && arenaBuffers.has(buffer) && (view.byteOffset + offset) % DIRECT_ALIGNMENT === 0;
}

/** Gives a batch's buffer back (views of other memory are left to the garbage collector). */
export function releaseBatch(view: Uint8Array<ArrayBufferLike>): void {
  const buffer = view.buffer;
  if (!(buffer instanceof SharedArrayBuffer)) return;
  if (!arenaBuffers.has(buffer)) {
    overflow.give(view as Uint8Array<SharedArrayBuffer>);
    return;
  }
  const at = Math.floor(view.byteOffset / SLOT_BYTES);
  if (!freeSlots.includes(at)) freeSlots.push(at);
}
