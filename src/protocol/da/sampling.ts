/**
 * Light-client sampling math. A blob is recoverable from any half of its cells, so a withholding attacker must hide
 * more than half; then each uniformly random sample succeeds with probability < 1/2, and `ok` successes out of `k`
 * happen with probability at most P[Binomial(k, 1/2) ≥ ok]. confidence = 1 − that bound.
 * Pure: the randomness is injected.
 */
import { InvalidInputError } from '../errors.ts';
import { CELLS_PER_BLOB } from './constants.ts';
import type { CellRef } from './types.ts';

export const DEFAULT_SAMPLES = 30;
export const DEFAULT_CONFIDENCE_THRESHOLD = 0.999;

/** Up to this many trials the tail is summed exactly with bigints; beyond it, in log space (~1e-12 relative). */
const EXACT_LIMIT = 1000;

/** P[Binomial(k, 1/2) ≥ atLeast]. */
export function binomialTailHalf(k: number, atLeast: number): number {
  checkCount(k, 'k');
  if (!Number.isInteger(atLeast)) throw invalid(`atLeast must be an integer, got ${atLeast}`);
  if (atLeast <= 0) return 1;
  if (atLeast > k) return 0;
  return k <= EXACT_LIMIT ? exactTail(k, atLeast) : logTail(k, atLeast);
}

/** 1 − P[Binomial(k, 1/2) ≥ ok]: how unlikely a blob missing half its cells answers `ok` of `k` samples. */
export function samplingConfidence(k: number, ok: number): number {
  checkCount(k, 'k');
  if (!Number.isInteger(ok) || ok < 0 || ok > k) throw invalid(`ok must be an integer in 0..${k}, got ${ok}`);
  return 1 - binomialTailHalf(k, ok);
}

export function isAvailable(confidence: number, threshold: number = DEFAULT_CONFIDENCE_THRESHOLD): boolean {
  return confidence >= threshold;
}

/** The fewest samples that reach `threshold` when every one succeeds (0.999 → 10). */
export function samplesForConfidence(threshold: number = DEFAULT_CONFIDENCE_THRESHOLD): number {
  if (!(threshold >= 0 && threshold < 1)) throw invalid(`a threshold must be in [0, 1), got ${threshold}`);
  let k = Math.max(0, Math.floor(-Math.log2(1 - threshold)) - 1);
  while (samplingConfidence(k, k) < threshold) k++; // float rounding can put the estimate one off
  return k;
}

/**
 * k uniformly random cells of a payload's blobs, all distinct when k ≤ blobCount × 128 (a partial Fisher–Yates
 * over a virtual array, so memory is O(k)); beyond that every cell is drawn once per round, in random order.
 * `random` returns values in [0, 1), like Math.random.
 */
export function pickSamples(random: () => number, blobCount: number, k: number): CellRef[] {
  if (!Number.isSafeInteger(blobCount) || blobCount < 1) throw invalid(`blobCount must be ≥ 1, got ${blobCount}`);
  checkCount(k, 'k');
  const total = blobCount * CELLS_PER_BLOB;
  const out: CellRef[] = [];
  while (out.length < k) {
    const round = Math.min(total, k - out.length);
    const swapped = new Map<number, number>();
    for (let i = 0; i < round; i++) {
      const j = i + randomBelow(random, total - i);
      const picked = swapped.get(j) ?? j;
      swapped.set(j, swapped.get(i) ?? i);
      out.push({ blob: Math.floor(picked / CELLS_PER_BLOB), cell: picked % CELLS_PER_BLOB });
    }
  }
  return out;
}

function exactTail(k: number, atLeast: number): number {
  let binomial = 1n; // C(k, 0)
  let sum = 0n;
  for (let i = 0; i <= k; i++) {
    if (i >= atLeast) sum += binomial;
    binomial = (binomial * BigInt(k - i)) / BigInt(i + 1);
  }
  // k ≤ 1000 keeps both 2^k and the sum finite as doubles; one rounding each, then one division.
  return Number(sum) / 2 ** k;
}

function logTail(k: number, atLeast: number): number {
  // log C(k, i) − k·ln 2 for i = atLeast..k, summed with log-sum-exp around the largest term.
  let logBinomial = 0;
  for (let i = 0; i < atLeast; i++) logBinomial += Math.log(k - i) - Math.log(i + 1);
  const logs: number[] = [];
  for (let i = atLeast; i <= k; i++) {
    logs.push(logBinomial - k * Math.LN2);
    logBinomial += Math.log(k - i) - Math.log(i + 1);
  }
  const max = logs.reduce((a, b) => (b > a ? b : a), -Infinity); // no spread: k may exceed the argument limit
  const sum = logs.reduce((acc, value) => acc + Math.exp(value - max), 0);
  return Math.min(1, Math.exp(max + Math.log(sum)));
}

function randomBelow(random: () => number, n: number): number {
  const r = random();
  if (!(r >= 0 && r < 1)) throw invalid(`random() must return a number in [0, 1), got ${r}`);
  return Math.floor(r * n);
}

function checkCount(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw invalid(`${name} must be a non-negative integer, got ${value}`);
}

function invalid(details: string): InvalidInputError {
  return new InvalidInputError('DA_SAMPLING_INVALID', 'Invalid sampling parameters', { details });
}
