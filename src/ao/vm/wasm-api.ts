/**
 * The slice of the WebAssembly JS API the wasm process host uses. The project's TypeScript libs
 * carry no WebAssembly declarations, so the global is typed here rather than with `any`.
 */

export type WasmApiMemory = { readonly buffer: ArrayBuffer; grow(delta: number | bigint): number | bigint };
export type WasmApiTable = { get(index: number): unknown; readonly length: number };
export type WasmApiGlobal = { value: unknown };
export type WasmApiInstance = { readonly exports: Readonly<Record<string, unknown>> };
/** A compiled module: opaque, and cloneable to worker threads. */
export type CompiledWasm = { readonly compiledWasmBrand?: never };
export type WasmImportObject = Record<string, Record<string, unknown>>;
export type MemoryDescriptor = { initial: number | bigint; maximum?: number | bigint; address?: 'i64' };

type WasmApi = {
  Module: new (bytes: Uint8Array) => CompiledWasm;
  Instance: new (module: CompiledWasm, imports: WasmImportObject) => WasmApiInstance;
  Memory: new (descriptor: MemoryDescriptor) => WasmApiMemory;
  Table: new (descriptor: { element: 'anyfunc'; initial: number; maximum?: number }) => WasmApiTable;
  Global: new (descriptor: { value: string; mutable?: boolean }, value?: unknown) => WasmApiGlobal;
  RuntimeError: new (message?: string) => Error;
  compile(bytes: Uint8Array): Promise<CompiledWasm>;
  validate(bytes: Uint8Array): boolean;
};

export const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
