/** The host's view of a module's linear memory, for wasm32 and wasm64 (memory64) alike. */
import { LevityError } from '../../protocol/errors.ts';
import type { WasmApiMemory } from './wasm-api.ts';
import type { FuncType } from './wasm-binary.ts';

/** A host import written over plain numbers: i64 arguments arrive converted, results are converted back. */
export type HostFn = (args: number[], type: FuncType) => number | void;

export type HostMemory = {
  readonly is64: boolean;
  /** Set once the instance exists (an exported memory is only known then). */
  bind(memory: WasmApiMemory, malloc: ((size: number) => number) | undefined): void;
  memory(): WasmApiMemory;
  u8(): Uint8Array;
  dv(): DataView;
  readCString(ptr: number): string;
  writeCString(ptr: number, text: string): void;
  /** A NUL-terminated copy in the module's heap, through its own malloc. */
  allocCString(text: string): number;
  readPointer(ptr: number): number;
  writePointer(ptr: number, value: number): void;
  /** size_t, long, time_t and friends: 4 bytes on wasm32, 8 on wasm64. */
  writeSize(ptr: number, value: number): void;
  writeU64(ptr: number, value: number): void;
  tempRet0(): number;
  setTempRet0(value: number): void;
};

const utf8 = new TextDecoder();
const encoder = new TextEncoder();

export function createHostMemory(is64: boolean): HostMemory {
  let memory: WasmApiMemory | undefined;
  let malloc: ((size: number) => number) | undefined;
  let buffer: ArrayBuffer | undefined;
  let u8 = new Uint8Array(0);
  let dv = new DataView(new ArrayBuffer(0));
  let tempRet0 = 0;

  // Growing the memory detaches the old buffer; views are rebuilt on first use after that.
  function refresh(): void {
    const current = memory!.buffer;
    if (current !== buffer) {
      buffer = current;
      u8 = new Uint8Array(current);
      dv = new DataView(current);
    }
  }

  const self: HostMemory = {
    is64,
    bind(mem, alloc) {
      memory = mem;
      malloc = alloc;
      buffer = undefined;
    },
    memory() {
      if (!memory) throw new LevityError('AO_WASM_NO_MEMORY', 'the module has no linear memory');
      return memory;
    },
    u8() {
      refresh();
      return u8;
    },
    dv() {
      refresh();
      return dv;
    },
    readCString(ptr) {
      const bytes = self.u8();
      const end = bytes.indexOf(0, ptr);
      return utf8.decode(bytes.subarray(ptr, end < 0 ? bytes.length : end));
    },
    writeCString(ptr, text) {
      const bytes = encoder.encode(text);
      const view = self.u8();
      view.set(bytes, ptr);
      view[ptr + bytes.length] = 0;
    },
    allocCString(text) {
      if (!malloc) throw new LevityError('AO_WASM_NO_MALLOC', 'the module asked the host for a string but exports no malloc');
      const bytes = encoder.encode(text);
      const ptr = malloc(bytes.length + 1);
      if (!ptr) throw new LevityError('AO_WASM_HEAP_FULL', 'the module heap cannot hold a host string');
      self.writeCString(ptr, text);
      return ptr;
    },
    readPointer(ptr) {
      return is64 ? Number(self.dv().getBigUint64(ptr, true)) : self.dv().getUint32(ptr, true);
    },
    writePointer(ptr, value) {
      self.writeSize(ptr, value);
    },
    writeSize(ptr, value) {
      if (is64) self.dv().setBigInt64(ptr, BigInt(Math.trunc(value)), true);
      else self.dv().setInt32(ptr, value, true);
    },
    writeU64(ptr, value) {
      self.dv().setBigUint64(ptr, BigInt(Math.trunc(value)), true);
    },
    tempRet0: () => tempRet0,
    setTempRet0(value) {
      tempRet0 = value | 0;
    },
  };
  return self;
}
