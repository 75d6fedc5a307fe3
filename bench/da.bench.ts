/**
 * Data availability: end-to-end dispersal speed (encode on worker threads, disperse to the DA
 * nodes, collect BLS attestations, certify on chain) of one `BENCH_DA_MIB` payload (default
 * 16 MiB) on a real devnet, against this machine's limit for computing cells and proofs with
 * c-kzg on every core; and the gas one certificate costs.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PAYLOAD_BYTES_PER_BLOB } from '../src/protocol/da/constants.ts';
import { computeCellsAndProofs } from '../src/protocol/da/kzg.ts';
import { payloadToBlobs } from '../src/protocol/da/payload-blobs.ts';
import { submitBlob, waitForBlob } from '../src/sdk/da/index.ts';
import { startDevnet } from '../test/e2e/devnet-process.ts';
import { report } from './report.ts';

const MIB = 1024 * 1024;
const PAYLOAD_MIB = Number(process.env.BENCH_DA_MIB ?? 16);
const cores = availableParallelism();

/** c-kzg `computeCellsAndKzgProofs` on one thread, in original payload bytes per second. */
function cellsLimitOneCore(): number {
  const blobs = payloadToBlobs(randomBytes(8 * PAYLOAD_BYTES_PER_BLOB - 8));
  computeCellsAndProofs(blobs[0]!); // loads the trusted setup and warms up
  const start = performance.now();
  for (const blob of blobs) computeCellsAndProofs(blob);
  const seconds = (performance.now() - start) / 1000;
  return (blobs.length * PAYLOAD_BYTES_PER_BLOB) / MIB / seconds;
}

async function main(): Promise<void> {
  const perCore = cellsLimitOneCore();
  const limit = perCore * cores;
  report({ bench: 'da', name: 'c-kzg computeCellsAndKzgProofs, one core', value: perCore, unit: 'MiB/s', note: 'original payload bytes' });
  report({ bench: 'da', name: `c-kzg limit × ${cores} cores`, value: limit, unit: 'MiB/s' });

  const dir = await mkdtemp(join(tmpdir(), 'levity-bench-da-'));
  const devnet = await startDevnet(join(dir, 'devnet'), [], 180_000);
  try {
    const aggregator = devnet.manifest.da!.aggregator;
    // A small warm-up blob loads the trusted setup in every encoder worker and node first.
    const warm = await submitBlob({ aggregator, bytes: randomBytes(1000) });
    await waitForBlob({ aggregator, id: warm.id, timeoutMs: 120_000 });

    const payload = randomBytes(PAYLOAD_MIB * MIB);
    const start = performance.now();
    const { id } = await submitBlob({ aggregator, bytes: payload });
    const job = await waitForBlob({ aggregator, id, timeoutMs: 600_000 });
    const seconds = (performance.now() - start) / 1000;
    const mibs = PAYLOAD_MIB / seconds;
    const timings = job.timings;
    report({
      bench: 'da',
      name: `dispersal end to end, ${PAYLOAD_MIB} MiB`,
      value: mibs,
      unit: 'MiB/s',
      note: `encode ${timings?.encodeMs} ms, disperse ${timings?.disperseMs} ms, certify ${timings?.certifyMs} ms; ${job.blobCount} blobs, ${job.signers?.length} signers`,
    });
    report({ bench: 'da', name: 'dispersal / c-kzg limit', value: (100 * mibs) / limit, unit: '%', target: '≥ 80%' });
    report({ bench: 'da', name: 'gas to verify one certificate', value: Number(job.gasUsed), unit: 'gas', note: `${job.signers?.length} of ${devnet.manifest.da!.nodes.length} nodes signed` });
  } finally {
    await devnet.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
