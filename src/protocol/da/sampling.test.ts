import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../errors.ts';
import {
  binomialTailHalf,
  isAvailable,
  pickSamples,
  samplesForConfidence,
  samplingConfidence,
} from './sampling.ts';
import { mulberry32 as seeded } from '../seeded-random.ts';

const invalid = (error: unknown) => error instanceof InvalidInputError && error.code === 'DA_SAMPLING_INVALID';

const close = (actual: number, expected: number, relative = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= relative * Math.abs(expected), `${actual} vs ${expected}`);

describe('sampling math', () => {
  it('computes binomial tails at p = 1/2 exactly', () => {
    assert.equal(binomialTailHalf(30, 30), 2 ** -30);
    assert.equal(binomialTailHalf(30, 0), 1);
    assert.equal(binomialTailHalf(30, -3), 1);
    assert.equal(binomialTailHalf(30, 31), 0);
    assert.equal(binomialTailHalf(0, 0), 1);
    assert.equal(binomialTailHalf(10, 5), 638 / 1024); // Σ C(10, 5..10) = 252+210+120+45+10+1
    assert.equal(binomialTailHalf(4, 2), 11 / 16);
    assert.equal(binomialTailHalf(31, 16), 0.5); // symmetry at odd k
    assert.equal(binomialTailHalf(30, 29), 31 * 2 ** -30);
    close(binomialTailHalf(1000, 1000), 2 ** -1000);
  });

  it('agrees between the exact and the log-space paths', () => {
    for (const atLeast of [0, 500, 501, 520, 600, 900]) {
      close(binomialTailHalf(1001, atLeast), (binomialTailHalf(1000, atLeast) + binomialTailHalf(1000, atLeast - 1)) / 2, 1e-9);
    }
    close(binomialTailHalf(2000, 1000), 0.5 + 0.5 * 0.017839, 1e-4); // ½ + ½·P[X = 1000]
    assert.ok(binomialTailHalf(1_000_000, 999_000) === 0); // far below the smallest double
  });

  it('turns sample outcomes into confidence', () => {
    assert.equal(samplingConfidence(30, 30), 1 - 2 ** -30);
    assert.equal(samplingConfidence(30, 0), 0);
    assert.equal(samplingConfidence(10, 10), 1 - 1 / 1024);
    close(samplingConfidence(30, 29), 1 - 31 * 2 ** -30);
    assert.equal(isAvailable(samplingConfidence(30, 30)), true);
    assert.equal(isAvailable(samplingConfidence(30, 20)), false); // P ≈ 0.049
    assert.equal(isAvailable(samplingConfidence(10, 10)), true);
    assert.equal(isAvailable(samplingConfidence(9, 9)), false);
    assert.equal(isAvailable(0.95, 0.9), true);
    assert.equal(samplesForConfidence(0.999), 10);
    assert.equal(samplesForConfidence(0.5), 1);
    assert.equal(samplesForConfidence(0), 0);
    assert.equal(samplesForConfidence(1 - 2 ** -30), 30);
  });

  it('refuses nonsense parameters', () => {
    assert.throws(() => binomialTailHalf(-1, 0), invalid);
    assert.throws(() => binomialTailHalf(1.5, 0), invalid);
    assert.throws(() => binomialTailHalf(3, 0.5), invalid);
    assert.throws(() => samplingConfidence(3, 4), invalid);
    assert.throws(() => samplesForConfidence(1), invalid);
    assert.throws(() => pickSamples(Math.random, 0, 3), invalid);
    assert.throws(() => pickSamples(() => 1, 1, 3), invalid);
    assert.throws(() => pickSamples(() => Number.NaN, 1, 3), invalid);
  });

  it('picks distinct cells when it can', () => {
    const samples = pickSamples(seeded(1), 3, 30);
    assert.equal(samples.length, 30);
    assert.equal(new Set(samples.map((s) => `${s.blob}:${s.cell}`)).size, 30);
    for (const s of samples) assert.ok(s.blob >= 0 && s.blob < 3 && s.cell >= 0 && s.cell < 128);
    // All 128 cells of a single blob, each once.
    const whole = pickSamples(seeded(2), 1, 128);
    assert.deepEqual(whole.map((s) => s.cell).sort((a, b) => a - b), [...Array(128).keys()]);
    // More samples than cells: every cell once per round.
    const over = pickSamples(seeded(3), 1, 300);
    assert.equal(over.length, 300);
    assert.equal(new Set(over.slice(0, 128).map((s) => s.cell)).size, 128);
    assert.equal(new Set(over.slice(128, 256).map((s) => s.cell)).size, 128);
    assert.deepEqual(pickSamples(seeded(4), 5, 0), []);
    // Deterministic for a given generator, and roughly uniform.
    assert.deepEqual(pickSamples(seeded(9), 4, 10), pickSamples(seeded(9), 4, 10));
    const counts = new Array(4).fill(0);
    for (let i = 0; i < 2000; i++) for (const s of pickSamples(seeded(100 + i), 4, 2)) counts[s.blob]++;
    for (const count of counts) assert.ok(count > 850 && count < 1150, String(counts));
    // The edge of the generator's range maps to the last index, never past it.
    assert.deepEqual(pickSamples(() => 0.9999999999, 2, 1), [{ blob: 1, cell: 127 }]);
  });
});
