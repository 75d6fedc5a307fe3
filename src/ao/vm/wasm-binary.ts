/**
 * Reads what a host needs from a wasm binary before instantiating it: each import's signature
 * (the JS API does not expose them, and an i64 result must be handed back as a BigInt), the
 * memory's limits and address width, and which exported globals are mutable (they are state).
 */
import { InvalidInputError } from '../../protocol/errors.ts';

export type ValueType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';
export type FuncType = { params: ValueType[]; results: ValueType[] };
export type Limits = { min: number; max?: number; shared: boolean; is64: boolean };

export type WasmImport =
  | { module: string; name: string; kind: 'function'; type: FuncType }
  | { module: string; name: string; kind: 'memory'; limits: Limits }
  | { module: string; name: string; kind: 'table'; limits: Limits }
  | { module: string; name: string; kind: 'global'; valueType: ValueType; mutable: boolean }
  | { module: string; name: string; kind: 'tag' };

export type WasmExport = { name: string; kind: 'function' | 'table' | 'memory' | 'global' | 'tag'; index: number };

export type WasmModuleInfo = {
  imports: WasmImport[];
  exports: WasmExport[];
  /** Signatures of the module's own functions, by function index (imports first). */
  functionTypes: FuncType[];
  /** The one memory, imported or defined; undefined when the module has none. */
  memory?: Limits;
  /** Exported globals that can change, with their value types: part of a process's state. */
  mutableGlobals: { name: string; valueType: ValueType }[];
  /** Function index in each slot of table 0 that an active element segment fills at a constant offset. */
  tableFunctions: Map<number, number>;
};

const VALUE_TYPES: Readonly<Record<number, ValueType>> = {
  0x7f: 'i32',
  0x7e: 'i64',
  0x7d: 'f32',
  0x7c: 'f64',
  0x7b: 'v128',
  0x70: 'funcref',
  0x6f: 'externref',
};
const EXPORT_KINDS = ['function', 'table', 'memory', 'global', 'tag'] as const;

function invalid(why: string): InvalidInputError {
  return new InvalidInputError('AO_WASM_MODULE_INVALID', `not a usable wasm module: ${why}`);
}

class Reader {
  offset = 0;
  private readonly bytes: Uint8Array;
  private readonly end: number;
  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.offset = start;
    this.end = end;
  }
  get done(): boolean {
    return this.offset >= this.end;
  }
  byte(): number {
    if (this.offset >= this.end) throw invalid('truncated');
    return this.bytes[this.offset++]!;
  }
  /** Unsigned LEB128; memory64 limits can pass 2^32, so the value is built as a float. */
  u(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    throw invalid('bad LEB128');
  }
  /** Signed LEB128 (table offsets are small; the float is exact below 2^53). */
  s(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      result += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) return b & 0x40 ? result - scale : result;
    }
    throw invalid('bad LEB128');
  }
  /** Signed LEB128, skipped: init expressions are read only to find their end. */
  skipLeb(): void {
    for (let i = 0; i < 10; i++) if ((this.byte() & 0x80) === 0) return;
    throw invalid('bad LEB128');
  }
  skip(n: number): void {
    if (this.offset + n > this.end) throw invalid('truncated');
    this.offset += n;
  }
  name(): string {
    const length = this.u();
    if (this.offset + length > this.end) throw invalid('truncated name');
    const text = new TextDecoder('utf-8', { fatal: true }).decode(this.bytes.subarray(this.offset, this.offset + length));
    this.offset += length;
    return text;
  }
  valueType(): ValueType {
    const code = this.byte();
    const type = VALUE_TYPES[code];
    if (!type) throw invalid(`value type 0x${code.toString(16)} is not supported`);
    return type;
  }
  limits(): Limits {
    const flags = this.byte();
    if (flags > 7) throw invalid(`limits flags 0x${flags.toString(16)}`);
    const min = this.u();
    const max = flags & 1 ? this.u() : undefined;
    return { min, max, shared: (flags & 2) !== 0, is64: (flags & 4) !== 0 };
  }
}

/** Constant expressions (global initialisers) are short; only their end matters here. */
function skipInitExpression(r: Reader): void {
  for (;;) {
    const op = r.byte();
    if (op === 0x0b) return;
    if (op === 0x41 || op === 0x42) r.skipLeb();
    else if (op === 0x43) r.skip(4);
    else if (op === 0x44) r.skip(8);
    else if (op === 0x23 || op === 0xd2) r.u();
    else if (op === 0xd0) r.byte();
    else if ((op >= 0x6a && op <= 0x6c) || (op >= 0x7c && op <= 0x7e)) continue;
    else if (op === 0xfd) {
      if (r.u() !== 12) throw invalid('unsupported constant expression');
      r.skip(16);
    } else throw invalid(`unsupported constant expression opcode 0x${op.toString(16)}`);
  }
}

/** An element segment's offset when it is a constant; undefined for anything else (global.get). */
function constantOffset(r: Reader): number | undefined {
  const op = r.byte();
  if (op === 0x41 || op === 0x42) {
    const value = r.s();
    if (r.byte() === 0x0b) return value;
    throw invalid('unsupported element offset');
  }
  r.offset -= 1;
  skipInitExpression(r);
  return undefined;
}

/** Element section: which function each table slot starts with (ref.func expressions included). */
function readElements(s: Reader, tableFunctions: Map<number, number>): void {
  for (let n = s.u(); n > 0; n--) {
    const flags = s.u();
    if (flags > 7) throw invalid(`element segment flags ${flags}`);
    const passiveOrDeclared = (flags & 1) !== 0;
    const table = flags & 2 && !passiveOrDeclared ? s.u() : 0;
    const offset = passiveOrDeclared ? undefined : constantOffset(s);
    if (flags & 3) s.byte(); // elemkind or reftype
    const expressions = (flags & 4) !== 0;
    for (let i = 0, count = s.u(); i < count; i++) {
      let func: number | undefined;
      if (!expressions) func = s.u();
      else if (s.byte() === 0xd2) {
        func = s.u();
        s.byte();
      } else {
        s.offset -= 1;
        skipInitExpression(s);
      }
      if (table === 0 && offset !== undefined && func !== undefined) tableFunctions.set(offset + i, func);
    }
  }
}

export function parseWasmModule(bytes: Uint8Array): WasmModuleInfo {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) throw invalid('no \\0asm header');
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) throw invalid('only binary format version 1 is supported');
  const r = new Reader(bytes, 8);
  const types: FuncType[] = [];
  const imports: WasmImport[] = [];
  const exports: WasmExport[] = [];
  const functionTypes: FuncType[] = [];
  const globals: { valueType: ValueType; mutable: boolean }[] = [];
  const tableFunctions = new Map<number, number>();
  let memory: Limits | undefined;

  while (!r.done) {
    const id = r.byte();
    const size = r.u();
    const end = r.offset + size;
    if (end > bytes.length) throw invalid('section runs past the end');
    const s = new Reader(bytes, r.offset, end);
    if (id === 1) {
      for (let n = s.u(); n > 0; n--) {
        const form = s.byte();
        if (form !== 0x60) throw invalid(`type form 0x${form.toString(16)} is not supported (GC types)`);
        const params = Array.from({ length: s.u() }, () => s.valueType());
        const results = Array.from({ length: s.u() }, () => s.valueType());
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = s.u(); n > 0; n--) {
        const module = s.name();
        const name = s.name();
        const kind = s.byte();
        if (kind === 0) {
          const type = types[s.u()];
          if (!type) throw invalid(`import ${module}.${name} names an unknown type`);
          imports.push({ module, name, kind: 'function', type });
          functionTypes.push(type);
        } else if (kind === 1) {
          s.byte();
          imports.push({ module, name, kind: 'table', limits: s.limits() });
        } else if (kind === 2) {
          const limits = s.limits();
          memory ??= limits;
          imports.push({ module, name, kind: 'memory', limits });
        } else if (kind === 3) {
          const valueType = s.valueType();
          const mutable = s.byte() === 1;
          globals.push({ valueType, mutable });
          imports.push({ module, name, kind: 'global', valueType, mutable });
        } else if (kind === 4) {
          s.byte();
          s.u();
          imports.push({ module, name, kind: 'tag' });
        } else throw invalid(`import kind ${kind}`);
      }
    } else if (id === 3) {
      for (let n = s.u(); n > 0; n--) {
        const type = types[s.u()];
        if (!type) throw invalid('a function names an unknown type');
        functionTypes.push(type);
      }
    } else if (id === 5) {
      for (let n = s.u(); n > 0; n--) memory ??= s.limits();
    } else if (id === 6) {
      for (let n = s.u(); n > 0; n--) {
        const valueType = s.valueType();
        const mutable = s.byte() === 1;
        skipInitExpression(s);
        globals.push({ valueType, mutable });
      }
    } else if (id === 7) {
      for (let n = s.u(); n > 0; n--) {
        const name = s.name();
        const kind = EXPORT_KINDS[s.byte()];
        if (!kind) throw invalid(`export ${name} has an unknown kind`);
        exports.push({ name, kind, index: s.u() });
      }
    } else if (id === 9) {
      readElements(s, tableFunctions);
    }
    r.offset = end;
  }

  const mutableGlobals: WasmModuleInfo['mutableGlobals'] = [];
  for (const e of exports) {
    const global = e.kind === 'global' ? globals[e.index] : undefined;
    if (global?.mutable) mutableGlobals.push({ name: e.name, valueType: global.valueType });
  }
  return { imports, exports, functionTypes, memory, mutableGlobals, tableFunctions };
}

/** The signature of an exported function, or undefined when there is no such function export. */
export function exportedFunctionType(info: WasmModuleInfo, name: string): FuncType | undefined {
  const found = info.exports.find((e) => e.name === name && e.kind === 'function');
  return found ? info.functionTypes[found.index] : undefined;
}
