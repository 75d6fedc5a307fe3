/**
 * Light-client sampling: instead of downloading a payload, ask for k random cells and check each
 * proof. A payload with less than half its cells available (so unrecoverable) would answer each
 * sample with probability < 1/2, so k good answers bound the chance of being fooled by 2^-k.
 */
import type { Address } from 'viem';
import { custodians } from '../../protocol/da/custody.ts';
import { DEFAULT_CONFIDENCE_THRESHOLD, DEFAULT_SAMPLES, isAvailable, pickSamples, samplingConfidence } from '../../protocol/da/sampling.ts';
import type { CellWithProof } from '../../protocol/da/types.ts';
import { errorMessage, isLevityError } from '../../protocol/errors.ts';
import { forEachLimited, invalidInput } from './da-http.ts';
import { locateRoot } from './locate-root.ts';
import type { LocatedRoot, ReadSourceParameters } from './locate-root.ts';
import { verifies } from './retrieve-blob.ts';

export type SampleBlobParameters = ReadSourceParameters & {
  /** Cells to sample (default 30). */
  k?: number;
  /** Uniform in [0, 1); injectable so tests are repeatable (default Math.random). */
  random?: () => number;
  /** Samples in flight at once (default 8). */
  concurrency?: number;
};

export type SampleFailure = { node: Address; reason: 'unreachable' | 'missing' | 'invalid'; details?: string };

export type Sample = {
  blob: number;
  cell: number;
  /** The node whose cell verified, when one did. */
  node?: Address;
  ok: boolean;
  /** Custodians asked before (or instead of) the one that answered well. */
  failures: SampleFailure[];
};

export type SampleBlobReturnType = {
  available: boolean;
  /** 1 − P[Binomial(k, 1/2) ≥ ok]: how unlikely an unrecoverable payload would have answered this well. */
  confidence: number;
  k: number;
  ok: number;
  failed: number;
  samples: Sample[];
};

export const defaultSampleBlobOptions = { k: DEFAULT_SAMPLES, concurrency: 8, threshold: DEFAULT_CONFIDENCE_THRESHOLD } as const;

/** Samples `k` random cells of a certified root from their custodians and judges its availability. */
export async function sampleBlob(parameters: SampleBlobParameters): Promise<SampleBlobReturnType> {
  const k = parameters.k ?? defaultSampleBlobOptions.k;
  if (!Number.isInteger(k) || k < 1 || k > 10_000) throw invalidInput(`k must be a whole number from 1 to 10000, not ${k}`);
  const random = parameters.random ?? Math.random;
  const located = await locateRoot(parameters);
  const picks = pickSamples(random, located.header.blobCount, k);
  const samples: Sample[] = new Array(k);
  await forEachLimited(k, parameters.concurrency ?? defaultSampleBlobOptions.concurrency, async (i) => {
    samples[i] = await sampleCell(located, picks[i]!.blob, picks[i]!.cell, random);
  });
  const ok = samples.filter((sample) => sample.ok).length;
  const confidence = samplingConfidence(k, ok);
  return { available: isAvailable(confidence, defaultSampleBlobOptions.threshold), confidence, k, ok, failed: k - ok, samples };
}

/** Asks the cell's custodians in random order until one serves a cell whose proof verifies. */
async function sampleCell(located: LocatedRoot, blob: number, cell: number, random: () => number): Promise<Sample> {
  const { committee, seed, root } = located;
  const order = shuffle(custodians(seed, committee.members.length, committee.replication, { blob, cell }), random);
  const failures: SampleFailure[] = [];
  for (const index of order) {
    const node = located.nodes[index];
    if (!node) continue;
    const address = node.member.address;
    let served: CellWithProof[];
    try {
      served = await node.client.cells(root, [{ blob, cell }]);
    } catch (error) {
      failures.push({ node: address, reason: 'unreachable', details: isLevityError(error) ? error.code : errorMessage(error) });
      continue;
    }
    const found = served.find((candidate) => candidate.blob === blob && candidate.cell === cell);
    if (!found) {
      failures.push({ node: address, reason: 'missing' });
      continue;
    }
    if (!verifies(located.commitments, [found])) {
      failures.push({ node: address, reason: 'invalid' });
      continue;
    }
    return { blob, cell, node: address, ok: true, failures };
  }
  return { blob, cell, ok: false, failures };
}

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(random() * (i + 1)));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
