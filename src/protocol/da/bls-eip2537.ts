/**
 * BLS12-381 points between the ZCash compressed form that blst and noble speak (G1 48 B, G2 96 B, Fp2 as c1‖c0)
 * and the EIP-2537 form the precompiles take (every Fp 64 B big-endian with 16 zero bytes on top, Fp2 as c0‖c1,
 * G1 = x‖y 128 B, G2 = x‖y 256 B, infinity = all zeros). Decoding checks the curve and the subgroup, so a point
 * that comes back from here is one the precompiles accept.
 */
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { bytesToBigInt, numberToBytes } from 'viem';
import { InvalidInputError } from '../errors.ts';
import { BLS_PUBLIC_KEY_BYTES, BLS_SIGNATURE_BYTES } from './constants.ts';

export const EIP2537_FP_BYTES = 64;
export const EIP2537_G1_BYTES = 128;
export const EIP2537_G2_BYTES = 256;

const { G1, G2 } = bls12_381;
const P = bls12_381.fields.Fp.ORDER;
const FP_BYTES = 48;
const FP_PAD = EIP2537_FP_BYTES - FP_BYTES;

type G1Point = ReturnType<typeof G1.Point.fromBytes>;
type G2Point = ReturnType<typeof G2.Point.fromBytes>;

/** 48-byte compressed G1 → 128-byte EIP-2537 G1 (infinity → 128 zero bytes). */
export function g1ToEip2537(compressed: Uint8Array): Uint8Array {
  const point = decode('G1', compressed, BLS_PUBLIC_KEY_BYTES, (b) => G1.Point.fromBytes(b));
  return g1PointToEip2537(point);
}

/** 128-byte EIP-2537 G1 → 48-byte compressed G1. */
export function g1FromEip2537(bytes: Uint8Array): Uint8Array {
  return g1PointFromEip2537(bytes).toBytes(true);
}

/** 96-byte compressed G2 → 256-byte EIP-2537 G2 (infinity → 256 zero bytes). */
export function g2ToEip2537(compressed: Uint8Array): Uint8Array {
  const point = decode('G2', compressed, BLS_SIGNATURE_BYTES, (b) => G2.Point.fromBytes(b));
  return g2PointToEip2537(point);
}

/** 256-byte EIP-2537 G2 → 96-byte compressed G2. */
export function g2FromEip2537(bytes: Uint8Array): Uint8Array {
  return g2PointFromEip2537(bytes).toBytes(true);
}

/** Whether the bytes are all zero: EIP-2537's encoding of the point at infinity. */
export function isEip2537Infinity(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0);
}

export function g1PointToEip2537(point: G1Point): Uint8Array {
  const out = new Uint8Array(EIP2537_G1_BYTES);
  if (point.is0()) return out;
  const { x, y } = point.toAffine();
  writeFp(out, 0, x);
  writeFp(out, EIP2537_FP_BYTES, y);
  return out;
}

export function g2PointToEip2537(point: G2Point): Uint8Array {
  const out = new Uint8Array(EIP2537_G2_BYTES);
  if (point.is0()) return out;
  const { x, y } = point.toAffine();
  writeFp(out, 0, x.c0);
  writeFp(out, EIP2537_FP_BYTES, x.c1);
  writeFp(out, 2 * EIP2537_FP_BYTES, y.c0);
  writeFp(out, 3 * EIP2537_FP_BYTES, y.c1);
  return out;
}

export function g1PointFromEip2537(bytes: Uint8Array): G1Point {
  checkLength('G1', bytes, EIP2537_G1_BYTES);
  if (isEip2537Infinity(bytes)) return G1.Point.ZERO;
  const x = readFp('G1', bytes, 0);
  const y = readFp('G1', bytes, EIP2537_FP_BYTES);
  return validated('G1', () => G1.Point.fromAffine({ x, y }));
}

export function g2PointFromEip2537(bytes: Uint8Array): G2Point {
  checkLength('G2', bytes, EIP2537_G2_BYTES);
  if (isEip2537Infinity(bytes)) return G2.Point.ZERO;
  const Fp2 = bls12_381.fields.Fp2;
  const x = Fp2.create({ c0: readFp('G2', bytes, 0), c1: readFp('G2', bytes, EIP2537_FP_BYTES) });
  const y = Fp2.create({ c0: readFp('G2', bytes, 2 * EIP2537_FP_BYTES), c1: readFp('G2', bytes, 3 * EIP2537_FP_BYTES) });
  return validated('G2', () => G2.Point.fromAffine({ x, y }));
}

function writeFp(out: Uint8Array, offset: number, value: bigint): void {
  out.set(numberToBytes(value, { size: FP_BYTES }), offset + FP_PAD);
}

/** One 64-byte coordinate: the 16 top bytes must be zero and the value below p, as the precompiles demand. */
function readFp(group: string, bytes: Uint8Array, offset: number): bigint {
  for (let i = 0; i < FP_PAD; i++) {
    if (bytes[offset + i] !== 0) throw malformed(group, 'a coordinate has non-zero padding bytes');
  }
  const value = bytesToBigInt(bytes.subarray(offset + FP_PAD, offset + EIP2537_FP_BYTES));
  if (value >= P) throw malformed(group, 'a coordinate is not below the field modulus');
  return value;
}

function validated<T extends { assertValidity(): void }>(group: string, make: () => T): T {
  try {
    const point = make();
    point.assertValidity();
    return point;
  } catch (cause) {
    throw malformed(group, 'not a point of the prime-order subgroup', cause);
  }
}

function decode<T>(group: string, bytes: Uint8Array, length: number, parse: (b: Uint8Array) => T): T {
  checkLength(group, bytes, length);
  try {
    return parse(bytes);
  } catch (cause) {
    throw malformed(group, 'not a valid compressed point', cause);
  }
}

function checkLength(group: string, bytes: Uint8Array, length: number): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw malformed(group, `expected ${length} bytes, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`);
  }
}

function malformed(group: string, details: string, cause?: unknown): InvalidInputError {
  return new InvalidInputError('DA_BLS_POINT_MALFORMED', `Malformed BLS12-381 ${group} point`, { details, cause, meta: { group } });
}
