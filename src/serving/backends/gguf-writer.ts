/**
 * A GGUF v3 writer (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md), enough to produce the small
 * random-weight models the devnet and the tests serve: typed metadata and F32 tensors. Written from the format
 * description; all integers little-endian.
 *
 * Layout: magic "GGUF", u32 version, u64 tensor count, u64 kv count, the kvs (string key, u32 type, value), the tensor
 * infos (string name, u32 n_dims, u64 dims innermost first, u32 ggml type, u64 offset into the data section), zero
 * padding to the alignment, then each tensor's bytes, each padded to the alignment.
 */

import { InvalidInputError } from '../../protocol/errors.ts';

/** GGUF metadata value type ids, from the spec. */
export const GgufValueType = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;

export type GgufScalarType = Exclude<keyof typeof GgufValueType, 'array'>;

export type GgufScalar =
  | { type: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64'; value: number }
  | { type: 'u64' | 'i64'; value: bigint | number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string };

export type GgufArray =
  | { type: 'array'; itemType: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64'; values: ArrayLike<number> }
  | { type: 'array'; itemType: 'u64' | 'i64'; values: ReadonlyArray<bigint | number> }
  | { type: 'array'; itemType: 'bool'; values: readonly boolean[] }
  | { type: 'array'; itemType: 'string'; values: readonly string[] };

export type GgufValue = GgufScalar | GgufArray;

/** ggml tensor type ids; only F32 is written (random weights gain nothing from quantisation). */
export const GgmlType = { F32: 0 } as const;

export type GgufTensor = {
  name: string;
  /** ne[0] first: the contiguous dimension, as ggml orders them (a [n_embd, n_vocab] matrix has rows of n_embd). */
  dims: readonly number[];
  data: Float32Array;
};

export type GgufFile = {
  /** Keys in file order; `general.alignment` is appended when absent, so readers never have to assume it. */
  metadata: ReadonlyArray<readonly [string, GgufValue]>;
  tensors: readonly GgufTensor[];
  alignment?: number;
};

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const VERSION = 3;
const DEFAULT_ALIGNMENT = 32;

/** A growable little-endian byte sink. */
class ByteWriter {
  private buf = new Uint8Array(4096);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void { this.ensure(1); this.view.setUint8(this.length, v); this.length += 1; }
  i8(v: number): void { this.ensure(1); this.view.setInt8(this.length, v); this.length += 1; }
  u16(v: number): void { this.ensure(2); this.view.setUint16(this.length, v, true); this.length += 2; }
  i16(v: number): void { this.ensure(2); this.view.setInt16(this.length, v, true); this.length += 2; }
  u32(v: number): void { this.ensure(4); this.view.setUint32(this.length, v, true); this.length += 4; }
  i32(v: number): void { this.ensure(4); this.view.setInt32(this.length, v, true); this.length += 4; }
  f32(v: number): void { this.ensure(4); this.view.setFloat32(this.length, v, true); this.length += 4; }
  f64(v: number): void { this.ensure(8); this.view.setFloat64(this.length, v, true); this.length += 8; }
  u64(v: bigint | number): void { this.ensure(8); this.view.setBigUint64(this.length, BigInt(v), true); this.length += 8; }
  i64(v: bigint | number): void { this.ensure(8); this.view.setBigInt64(this.length, BigInt(v), true); this.length += 8; }
  bytes(b: Uint8Array): void { this.ensure(b.length); this.buf.set(b, this.length); this.length += b.length; }
  string(s: string): void { const b = new TextEncoder().encode(s); this.u64(b.length); this.bytes(b); }
  padTo(alignment: number): void { while (this.length % alignment !== 0) this.u8(0); }
  result(): Uint8Array { return this.buf.slice(0, this.length); }
}

function writeScalar(w: ByteWriter, type: GgufScalarType, value: number | bigint | boolean | string): void {
  switch (type) {
    case 'u8': w.u8(value as number); break;
    case 'i8': w.i8(value as number); break;
    case 'u16': w.u16(value as number); break;
    case 'i16': w.i16(value as number); break;
    case 'u32': w.u32(value as number); break;
    case 'i32': w.i32(value as number); break;
    case 'f32': w.f32(value as number); break;
    case 'f64': w.f64(value as number); break;
    case 'u64': w.u64(value as bigint | number); break;
    case 'i64': w.i64(value as bigint | number); break;
    case 'bool': w.u8(value ? 1 : 0); break;
    case 'string': w.string(value as string); break;
  }
}

function writeValue(w: ByteWriter, value: GgufValue): void {
  w.u32(GgufValueType[value.type]);
  if (value.type !== 'array') {
    writeScalar(w, value.type, value.value);
    return;
  }
  w.u32(GgufValueType[value.itemType]);
  w.u64(value.values.length);
  for (let i = 0; i < value.values.length; i++) {
    writeScalar(w, value.itemType, value.values[i] as number | bigint | boolean | string);
  }
}

/** Encodes a whole GGUF v3 file in memory (the models it is for are a few MB at most). */
export function encodeGguf(file: GgufFile): Uint8Array {
  const alignment = file.alignment ?? DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) {
    throw new InvalidInputError('GGUF_BAD_ALIGNMENT', 'GGUF alignment must be a positive multiple of 8', {
      meta: { alignment },
    });
  }
  const metadata = [...file.metadata];
  const keys = new Set(metadata.map(([key]) => key));
  if (keys.size !== metadata.length) {
    throw new InvalidInputError('GGUF_DUPLICATE_KEY', 'GGUF metadata keys must be unique');
  }
  const declared = metadata.find(([key]) => key === 'general.alignment')?.[1];
  if (declared === undefined) {
    metadata.push(['general.alignment', { type: 'u32', value: alignment }]);
  } else if (declared.type !== 'u32' || declared.value !== alignment) {
    throw new InvalidInputError('GGUF_BAD_ALIGNMENT', 'general.alignment must be a u32 equal to the alignment used');
  }

  const w = new ByteWriter();
  w.u32(MAGIC);
  w.u32(VERSION);
  w.u64(file.tensors.length);
  w.u64(metadata.length);
  for (const [key, value] of metadata) {
    w.string(key);
    writeValue(w, value);
  }

  let offset = 0;
  const names = new Set<string>();
  for (const tensor of file.tensors) {
    const elements = tensor.dims.reduce((a, b) => a * b, 1);
    if (tensor.dims.length === 0 || tensor.dims.length > 4 || elements !== tensor.data.length) {
      throw new InvalidInputError('GGUF_BAD_TENSOR', `tensor ${tensor.name}: dims do not match its data`, {
        meta: { name: tensor.name, dims: [...tensor.dims], elements: tensor.data.length },
      });
    }
    if (names.has(tensor.name)) {
      throw new InvalidInputError('GGUF_BAD_TENSOR', `tensor ${tensor.name} appears twice`);
    }
    names.add(tensor.name);
    w.string(tensor.name);
    w.u32(tensor.dims.length);
    for (const dim of tensor.dims) w.u64(dim);
    w.u32(GgmlType.F32);
    w.u64(offset);
    offset += Math.ceil((elements * 4) / alignment) * alignment;
  }
  w.padTo(alignment);

  for (const tensor of file.tensors) {
    // Copy through a little-endian view so the file is the same on any host byte order.
    const bytes = new Uint8Array(tensor.data.length * 4);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < tensor.data.length; i++) view.setFloat32(i * 4, tensor.data[i] as number, true);
    w.bytes(bytes);
    w.padTo(alignment);
  }
  return w.result();
}
