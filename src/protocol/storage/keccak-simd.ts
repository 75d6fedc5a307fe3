/**
 * keccak256 for Merkle trees, two hashes per instruction stream: a WebAssembly module, generated
 * below, that runs keccak-f[1600] on i64x2 vectors, lane 0 hashing one input and lane 1 the next.
 * Tree hashing is all fixed-size inputs (256-byte chunks, 64-byte pairs) in bulk, so one call
 * hashes thousands of them with the state in registers and no per-hash JS round trip. Measured
 * ~3× hash-wasm per core on tree building; `segment-hasher.ts` checks it against hash-wasm.
 *
 * Only the permutation's arithmetic lives here; which bytes are hashed is the caller's business.
 */

/** Where things live in the module's memory (bytes). */
export const KeccakSimdLayout = {
  /** Round constants, each splatted into both lanes: 24 × 16 bytes. */
  roundConstants: 0,
  /** Start of the region callers may use; everything below is the module's. */
  free: 1024,
} as const;

const ROUND_CONSTANTS = [
  0x0000000000000001n, 0x0000000000008082n, 0x800000000000808an, 0x8000000080008000n, 0x000000000000808bn, 0x0000000080000001n,
  0x8000000080008081n, 0x8000000000008009n, 0x000000000000008an, 0x0000000000000088n, 0x0000000080008009n, 0x000000008000000an,
  0x000000008000808bn, 0x800000000000008bn, 0x8000000000008089n, 0x8000000000008003n, 0x8000000000008002n, 0x8000000000000080n,
  0x000000000000800an, 0x800000008000000an, 0x8000000080008081n, 0x8000000000008080n, 0x0000000080000001n, 0x8000000080008008n,
];
/** ρ offsets, ROTATIONS[x][y]. */
const ROTATIONS = [
  [0, 36, 3, 41, 18],
  [1, 44, 10, 45, 2],
  [62, 6, 43, 15, 61],
  [28, 55, 25, 21, 56],
  [27, 20, 39, 8, 14],
];
/** Rounds per loop iteration: two keeps the code small enough for the instruction cache (measured faster than 1, 4 or 24). */
const UNROLL = 2;
const RATE = 136;

const Op = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Const: 0x41,
  i64Const: 0x42,
  i32LtS: 0x48,
  i32LtU: 0x49,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  simd: 0xfd,
} as const;
const Simd = {
  load: 0x00,
  splatI64: 0x12,
  and: 0x4e,
  andNot: 0x4f,
  or: 0x50,
  xor: 0x51,
  load64Lane: 0x57,
  store64Lane: 0x5b,
  load64Zero: 0x5d,
  shlI64: 0xcb,
  shrUI64: 0xcd,
} as const;
const I32 = 0x7f;
const V128 = 0x7b;

function uleb(value: number): number[] {
  const out: number[] = [];
  let rest = value >>> 0;
  do {
    let byte = rest & 0x7f;
    rest >>>= 7;
    if (rest !== 0) byte |= 0x80;
    out.push(byte);
  } while (rest !== 0);
  return out;
}

function sleb(input: bigint): number[] {
  let value = BigInt.asIntN(64, input);
  const out: number[] = [];
  for (;;) {
    const byte = Number(value & 0x7fn);
    value >>= 7n;
    const done = (value === 0n && (byte & 0x40) === 0) || (value === -1n && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];
const name = (text: string): number[] => vec([...text].map((c) => [c.charCodeAt(0)]));

/**
 * One exported function `(in, out, n)`: hashes the n inputs of `size` bytes at in, in+size, …
 * into 32-byte digests at out, out+32, …, two per iteration. For odd n the last iteration also
 * hashes the `size` bytes after the inputs and writes 32 bytes after the outputs: callers leave
 * that much slack.
 */
function hashFunction(size: 256 | 64): number[] {
  const IN = 0;
  const OUT = 1;
  const N = 2;
  const ROUND = 3;
  let next = 4;
  const take = (count: number) => Array.from({ length: count }, () => next++);
  const firstVector = next;
  const A = take(25);
  const B = take(25);
  const C = take(5);
  const D = take(5);
  const [T] = take(1) as [number];
  const code: number[] = [];
  const get = (local: number) => code.push(Op.localGet, ...uleb(local));
  const set = (local: number) => code.push(Op.localSet, ...uleb(local));
  const simd = (op: number, ...immediates: number[]) => code.push(Op.simd, ...uleb(op), ...immediates);
  const i32 = (value: number) => code.push(Op.i32Const, ...sleb(BigInt(value)));
  const splat = (value: bigint) => {
    code.push(Op.i64Const, ...sleb(value));
    simd(Simd.splatI64);
  };
  // Pushes [lane0 = u64 at in+offset, lane1 = u64 at in+size+offset].
  const load2 = (offset: number) => {
    get(IN);
    get(IN);
    simd(Simd.load64Zero, 3, ...uleb(offset));
    simd(Simd.load64Lane, 3, ...uleb(offset + size), 1);
  };
  // Rotates the vector on top of the stack left by k (wasm SIMD has no 64-bit rotate).
  const rotateTop = (k: number) => {
    code.push(Op.localTee, ...uleb(T));
    i32(k);
    simd(Simd.shlI64);
    get(T);
    i32(64 - k);
    simd(Simd.shrUI64);
    simd(Simd.or);
  };

  const round = (constantOffset: number) => {
    // θ
    for (let x = 0; x < 5; x++) {
      get(A[x]!);
      for (let y = 1; y < 5; y++) {
        get(A[x + 5 * y]!);
        simd(Simd.xor);
      }
      set(C[x]!);
    }
    for (let x = 0; x < 5; x++) {
      get(C[(x + 4) % 5]!);
      get(C[(x + 1) % 5]!);
      rotateTop(1);
      simd(Simd.xor);
      set(D[x]!);
    }
    // θ applied, then ρ and π: B[y, 2x+3y] = rotl(A[x, y] ^ D[x], r[x][y])
    for (let x = 0; x < 5; x++) {
      for (let y = 0; y < 5; y++) {
        get(A[x + 5 * y]!);
        get(D[x]!);
        simd(Simd.xor);
        const k = ROTATIONS[x]![y]!;
        if (k !== 0) rotateTop(k);
        set(B[y + 5 * ((2 * x + 3 * y) % 5)]!);
      }
    }
    // χ: A[x, y] = B[x, y] ^ (~B[x+1, y] & B[x+2, y]); ι on lane (0, 0)
    for (let y = 0; y < 5; y++) {
      for (let x = 0; x < 5; x++) {
        get(B[x + 5 * y]!);
        get(B[((x + 2) % 5) + 5 * y]!);
        get(B[((x + 1) % 5) + 5 * y]!);
        simd(Simd.andNot);
        simd(Simd.xor);
        if (x === 0 && y === 0) {
          get(ROUND);
          simd(Simd.load, 4, ...uleb(constantOffset));
          simd(Simd.xor);
        }
        set(A[x + 5 * y]!);
      }
    }
  };

  const permute = () => {
    i32(KeccakSimdLayout.roundConstants);
    set(ROUND);
    code.push(Op.loop, 0x40);
    for (let r = 0; r < UNROLL; r++) round(16 * r);
    get(ROUND);
    i32(16 * UNROLL);
    code.push(Op.i32Add, Op.localTee, ...uleb(ROUND));
    i32(KeccakSimdLayout.roundConstants + 16 * ROUND_CONSTANTS.length);
    code.push(Op.i32LtU, Op.brIf, 0, Op.end);
  };

  code.push(Op.block, 0x40, Op.loop, 0x40);
  get(N);
  i32(1);
  code.push(Op.i32LtS, Op.brIf, 1);
  // Absorb: keccak256 pads with 0x01 after the message and 0x80 in the rate's last byte.
  const lanes = Math.min(size, RATE) / 8;
  for (let i = 0; i < 25; i++) {
    if (i < lanes) load2(8 * i);
    else if (size === 64 && i === lanes) splat(1n);
    else if (size === 64 && i === RATE / 8 - 1) splat(0x8000000000000000n);
    else splat(0n);
    set(A[i]!);
  }
  permute();
  if (size === 256) {
    const rest = (size - RATE) / 8; // 15 lanes of the second block
    for (let i = 0; i < rest; i++) {
      get(A[i]!);
      load2(RATE + 8 * i);
      simd(Simd.xor);
      set(A[i]!);
    }
    get(A[rest]!);
    splat(1n);
    simd(Simd.xor);
    set(A[rest]!);
    get(A[RATE / 8 - 1]!);
    splat(0x8000000000000000n);
    simd(Simd.xor);
    set(A[RATE / 8 - 1]!);
    permute();
  }
  for (let i = 0; i < 4; i++) {
    get(OUT);
    get(A[i]!);
    simd(Simd.store64Lane, 3, ...uleb(8 * i), 0);
    get(OUT);
    get(A[i]!);
    simd(Simd.store64Lane, 3, ...uleb(32 + 8 * i), 1);
  }
  get(IN);
  i32(2 * size);
  code.push(Op.i32Add);
  set(IN);
  get(OUT);
  i32(64);
  code.push(Op.i32Add);
  set(OUT);
  get(N);
  i32(2);
  code.push(Op.i32Sub);
  set(N);
  code.push(Op.br, 0, Op.end, Op.end, Op.end);

  const locals = vec([
    [...uleb(1), I32],
    [...uleb(next - firstVector), V128],
  ]);
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

/**
 * The module's bytes: memory of `pages` 64 KiB pages (exported as `memory`), and
 * `chunks(in, out, n)` (256-byte inputs) and `pairs(in, out, n)` (64-byte inputs).
 */
export function keccakSimdModuleBytes(pages: number): Uint8Array {
  const constants: number[] = [];
  for (const constant of ROUND_CONSTANTS) {
    for (let lane = 0; lane < 2; lane++) {
      for (let byte = 0; byte < 8; byte++) constants.push(Number((constant >> BigInt(8 * byte)) & 0xffn));
    }
  }
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, 3, I32, I32, I32, 0]])), // type 0: (i32, i32, i32) -> ()
    ...section(3, vec([[0], [0]])),
    ...section(5, vec([[0x00, ...uleb(pages)]])),
    ...section(
      7,
      vec([
        [...name('memory'), 0x02, 0],
        [...name('chunks'), 0x00, 0],
        [...name('pairs'), 0x00, 1],
      ]),
    ),
    ...section(10, vec([hashFunction(256), hashFunction(64)])),
    ...section(11, vec([[0x00, Op.i32Const, ...sleb(BigInt(KeccakSimdLayout.roundConstants)), Op.end, ...vec(constants.map((b) => [b]))]])),
  ];
  return new Uint8Array(bytes);
}

/** Exports of an instance of the module. */
export type KeccakSimdExports = {
  memory: { readonly buffer: ArrayBuffer };
  chunks(input: number, output: number, count: number): void;
  pairs(input: number, output: number, count: number): void;
};

/** A compiled module, opaque here. */
export type CompiledModule = { readonly __compiledModule: unique symbol };

/**
 * The slice of the WebAssembly JS API this needs. The project's TypeScript libs carry no
 * WebAssembly declarations, so the global is typed here rather than with `any`.
 */
type WasmApi = {
  validate(bytes: Uint8Array): boolean;
  compile(bytes: Uint8Array): Promise<CompiledModule>;
  Instance: new (module: CompiledModule, imports: object) => { exports: object };
};
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** The module compiled for `pages` of memory; undefined where this runtime lacks WebAssembly SIMD. */
export async function compileKeccakSimd(pages: number): Promise<CompiledModule | undefined> {
  const bytes = keccakSimdModuleBytes(pages);
  return wasm?.validate(bytes) ? wasm.compile(bytes) : undefined;
}

/** A new instance, with its own memory. */
export function instantiateKeccakSimd(module: CompiledModule): KeccakSimdExports {
  return new wasm!.Instance(module, {}).exports as KeccakSimdExports;
}
