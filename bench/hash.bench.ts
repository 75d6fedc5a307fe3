/**
 * Hashing throughput: the floor under every storage upload (0G flow roots hash each sector).
 * keccak256 via hash-wasm joins this file when storage brings that dependency in.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { report } from './report.ts';

const SIZE = 64 * 1024 * 1024;
const CHUNK = 1024 * 1024;
const RUNS = 5;

// Random bytes so nothing can shortcut on repeated content; filled once, outside the timing.
const data = randomFillSync(Buffer.allocUnsafe(SIZE));

/** Best of RUNS in MB/s (10^6 bytes): the least-disturbed run is the most repeatable number. */
function throughput(hashOnce: () => void): number {
  hashOnce(); // warm-up: JIT and OpenSSL init are not what we measure
  let best = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const start = process.hrtime.bigint();
    hashOnce();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  return SIZE / 1e6 / best;
}

const oneShot = throughput(() => createHash('sha256').update(data).digest());
report({ bench: 'hash', name: 'sha256 64 MiB one-shot', value: oneShot, unit: 'MB/s', note: 'node:crypto' });

// Streaming in 1 MiB updates is how uploads feed the hash; the per-call overhead shows here.
const streamed = throughput(() => {
  const hash = createHash('sha256');
  for (let offset = 0; offset < SIZE; offset += CHUNK) hash.update(data.subarray(offset, offset + CHUNK));
  hash.digest();
});
report({
  bench: 'hash',
  name: 'sha256 64 MiB in 1 MiB updates',
  value: streamed,
  unit: 'MB/s',
  note: 'keccak256 (hash-wasm) lands with storage',
});
