/**
 * Data availability: end-to-end dispersal speed (encode on worker threads, stream cells to the DA nodes as they are
 * computed, collect BLS attestations, certify on chain) of one `BENCH_DA_MIB` payload (default 16 MiB) on a real
 * devnet, against this machine's limit for computing cells and proofs with c-kzg on every core; and the gas one
 * certificate costs.
 *
 * Every number is only as good as the machine was quiet: each row's note carries the load average, and the profile
 * rows split the devnet process's CPU time during the dispersal by thread (encoders, main thread — which runs the
 * aggregator and all in-process DA nodes — and the rest), name the CPU other processes took meanwhile, and project
 * what the same work would give on two cores of its own.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PAYLOAD_BYTES_PER_BLOB } from '../src/protocol/da/constants.ts';
import { blobCommitment, computeCellsAndProofs, verifyCellBatch } from '../src/protocol/da/kzg.ts';
import { payloadToBlobs } from '../src/protocol/da/payload-blobs.ts';
import { submitBlob, waitForBlob } from '../src/sdk/da/index.ts';
import type { BlobStatus } from '../src/sdk/da/index.ts';
import { startDevnet } from '../test/e2e/devnet-process.ts';
import { report } from './report.ts';

const MIB = 1024 * 1024;
const PAYLOAD_MIB = Number(process.env.BENCH_DA_MIB ?? 16);
const cores = availableParallelism();
const load = () => `load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`;

type KzgCosts = { cellsMs: number; cellsWallMs: number; commitMs: number; verifyUsPerCell: number };

/** CPU milliseconds this thread spends in `work` (on a shared machine, wall time also counts other processes). */
function cpuMs(work: () => void): number {
  const start = process.threadCpuUsage();
  work();
  const used = process.threadCpuUsage(start);
  return (used.user + used.system) / 1000;
}

/**
 * Per-blob c-kzg costs on one thread, in CPU time: cells and proofs (the limit), the commitment, and batch
 * verification of 512 cells (half of each of 8 blobs, as a node verifies a streamed batch).
 */
function kzgCosts(): KzgCosts {
  const blobs = payloadToBlobs(randomBytes(8 * PAYLOAD_BYTES_PER_BLOB - 8));
  computeCellsAndProofs(blobs[0]!); // loads the trusted setup and warms up
  let encoded: ReturnType<typeof computeCellsAndProofs>[] = [];
  const wallStart = performance.now();
  const cellsMs = cpuMs(() => (encoded = blobs.map((blob) => computeCellsAndProofs(blob)))) / blobs.length;
  const cellsWallMs = (performance.now() - wallStart) / blobs.length;
  let commitments: Uint8Array[] = [];
  const commitMs = cpuMs(() => (commitments = blobs.map((blob) => blobCommitment(blob)))) / blobs.length;
  const picks = encoded.flatMap((blob, b) => Array.from({ length: 64 }, (_, i) => ({ b, c: 2 * i, blob })));
  const verifyMs = cpuMs(() =>
    verifyCellBatch(
      picks.map((p) => commitments[p.b]!),
      picks.map((p) => p.c),
      picks.map((p) => p.blob.cells[p.c]!),
      picks.map((p) => p.blob.proofs[p.c]!),
    ),
  );
  return { cellsMs, cellsWallMs, commitMs, verifyUsPerCell: (verifyMs * 1000) / picks.length };
}

type ThreadTicks = Map<string, { name: string; ticks: number }>;

const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of every thread of `pid` (Linux /proc; empty elsewhere). */
function threadTicks(pid: number): ThreadTicks {
  const out: ThreadTicks = new Map();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.set(tid, { name, ticks: Number(fields[11]) + Number(fields[12]) });
      } catch {
        // the thread ended between the listing and the read
      }
    }
  } catch {
    // not Linux, or the process is gone
  }
  return out;
}

/** Busy jiffies of the whole machine (all CPUs), from /proc/stat. */
function machineBusyTicks(): number {
  try {
    const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    const [user, nice, system, , , irq, softirq, steal] = values.map(Number);
    return user! + nice! + system! + irq! + softirq! + steal!;
  } catch {
    return 0;
  }
}

/** CPU seconds per thread group between two samples: encoders, the main thread, GC and the rest. */
function cpuByGroup(before: ThreadTicks, after: ThreadTicks): Record<'encoders' | 'main' | 'gc' | 'other', number> {
  const groups = { encoders: 0, main: 0, gc: 0, other: 0 };
  for (const [tid, { name, ticks }] of after) {
    const spent = (ticks - (before.get(tid)?.ticks ?? 0)) / clockTicks;
    if (name === 'da-encoder') groups.encoders += spent;
    else if (name === 'MainThread' || name === 'node') groups.main += spent;
    else if (name.startsWith('V8')) groups.gc += spent;
    else groups.other += spent;
  }
  return groups;
}

type NodeWork = { cellsVerified: number; verifyMs: number; storeMs: number; signMs: number };
type EncoderWork = { commitMs: number; cellsMs: number };

async function health<T>(url: string, pick: (body: Record<string, unknown>) => T | undefined): Promise<T | undefined> {
  try {
    return pick((await (await fetch(`${url}/health`)).json()) as Record<string, unknown>);
  } catch {
    return undefined;
  }
}

/** Waits on the aggregator's long poll, so the end time is when the job ended, not the next poll. */
async function waitExactly(aggregator: string, id: string): Promise<BlobStatus> {
  for (;;) {
    const response = await fetch(`${aggregator}/v1/blobs/${id}?wait=1`);
    const status = (await response.json()) as BlobStatus;
    if (status.status === 'confirmed' || status.status === 'failed') return waitForBlob({ aggregator, id, timeoutMs: 10_000 });
  }
}

async function main(): Promise<void> {
  const costs = kzgCosts();
  const perCore = PAYLOAD_BYTES_PER_BLOB / MIB / (costs.cellsMs / 1000);
  const limit = perCore * cores;
  report({ bench: 'da', name: 'c-kzg computeCellsAndKzgProofs, one core', value: perCore, unit: 'MiB/s', note: `original payload bytes; ${costs.cellsMs.toFixed(0)} ms of CPU a blob (${costs.cellsWallMs.toFixed(0)} ms wall); ${load()}` });
  report({ bench: 'da', name: `c-kzg limit × ${cores} cores`, value: limit, unit: 'MiB/s' });
  // The work no dispersal avoids, per blob: cells and proofs, the commitment, and R = 2 nodes verifying each cell.
  const perBlobMs = costs.cellsMs + costs.commitMs + (2 * 128 * costs.verifyUsPerCell) / 1000;
  report({
    bench: 'da',
    name: 'design ceiling (cells + commitment + 2× verify)',
    value: (100 * costs.cellsMs) / perBlobMs,
    unit: '%',
    note: `commitment ${costs.commitMs.toFixed(0)} ms a blob, verify ${costs.verifyUsPerCell.toFixed(0)} µs a cell (batch of 512); nothing else counted`,
  });

  const dir = await mkdtemp(join(tmpdir(), 'levity-bench-da-'));
  const devnet = await startDevnet(join(dir, 'devnet'), [], 180_000);
  try {
    const aggregator = devnet.manifest.da!.aggregator;
    const nodes = devnet.manifest.da!.nodes;
    // A small warm-up blob loads the trusted setup in every encoder worker and node first.
    const warm = await submitBlob({ aggregator, bytes: randomBytes(1000) });
    await waitForBlob({ aggregator, id: warm.id, timeoutMs: 120_000 });

    const payload = randomBytes(PAYLOAD_MIB * MIB);
    const pid = devnet.child.pid!;
    const nodeWork = () => Promise.all(nodes.map((url) => health(url, (b) => b.custody as NodeWork | undefined)));
    const encoderWork = () => health(aggregator, (b) => b.encoder as EncoderWork | undefined);
    const [nodesBefore, encoderBefore] = await Promise.all([nodeWork(), encoderWork()]);
    const loadBefore = load();
    const ticksBefore = threadTicks(pid);
    const busyBefore = machineBusyTicks();
    const ownBefore = process.cpuUsage();
    const start = performance.now();
    const { id } = await submitBlob({ aggregator, bytes: payload });
    const job = await waitExactly(aggregator, id);
    const seconds = (performance.now() - start) / 1000;
    const ticksAfter = threadTicks(pid);
    const machine = (machineBusyTicks() - busyBefore) / clockTicks;
    const own = process.cpuUsage(ownBefore);
    const [nodesAfter, encoderAfter] = await Promise.all([nodeWork(), encoderWork()]);

    const mibs = PAYLOAD_MIB / seconds;
    const t = job.timings;
    report({
      bench: 'da',
      name: `dispersal end to end, ${PAYLOAD_MIB} MiB`,
      value: mibs,
      unit: 'MiB/s',
      note: `commitments ${t?.commitMs} ms, all cells ${t?.encodeMs} ms, quorum ${t?.tailMs} ms after the last blob, certify ${t?.certifyMs} ms; ${job.blobCount} blobs, ${job.signers?.length} signers; ${loadBefore} → ${load()}`,
    });
    report({ bench: 'da', name: 'dispersal / c-kzg limit', value: (100 * mibs) / limit, unit: '%', target: '≥ 80%' });

    const cpu = cpuByGroup(ticksBefore, ticksAfter);
    const devnetCpu = cpu.encoders + cpu.main + cpu.gc + cpu.other;
    const benchCpu = (own.user + own.system) / 1e6;
    const others = Math.max(0, machine - devnetCpu - benchCpu);
    const sum = (list: (NodeWork | undefined)[], key: keyof NodeWork) => list.reduce((s, w) => s + (w?.[key] ?? 0), 0);
    const verifyS = (sum(nodesAfter, 'verifyMs') - sum(nodesBefore, 'verifyMs')) / 1000;
    const storeS = (sum(nodesAfter, 'storeMs') - sum(nodesBefore, 'storeMs')) / 1000;
    const signS = (sum(nodesAfter, 'signMs') - sum(nodesBefore, 'signMs')) / 1000;
    const commitS = ((encoderAfter?.commitMs ?? 0) - (encoderBefore?.commitMs ?? 0)) / 1000;
    const cellsS = ((encoderAfter?.cellsMs ?? 0) - (encoderBefore?.cellsMs ?? 0)) / 1000;
    const f = (x: number) => x.toFixed(1);
    report({
      bench: 'da',
      name: 'devnet CPU during the dispersal',
      value: devnetCpu,
      unit: 's',
      note:
        `of ${f(cores * seconds)} core-s: encoder threads ${f(cpu.encoders)} (c-kzg commitments ${f(commitS)} + cells ${f(cellsS)}), ` +
        `main thread ${f(cpu.main)} (node verify ${f(verifyS)}, node store ${f(storeS)}, sign ${f(signS)}, rest: HTTP, wire, chain), ` +
        `GC ${f(cpu.gc)}, other threads ${f(cpu.other)}; other processes took ${f(others)}, this bench ${f(benchCpu)}; ` +
        `idle ${f(Math.max(0, cores * seconds - machine))}`,
    });
    // The same CPU work on cores of its own, perfectly overlapped: what the design reaches on a quiet machine.
    const quiet = devnetCpu > 0 ? PAYLOAD_MIB / (devnetCpu / cores) : 0;
    report({ bench: 'da', name: 'projected on quiet cores (devnet CPU / cores)', value: (100 * quiet) / limit, unit: '%', note: `${quiet.toFixed(3)} MiB/s` });
    report({ bench: 'da', name: 'gas to verify one certificate', value: Number(job.gasUsed), unit: 'gas', note: `${job.signers?.length} of ${nodes.length} nodes signed` });
  } finally {
    await devnet.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
