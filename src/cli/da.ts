import { constants } from 'node:fs';
import { access, open, rename, unlink } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Address, Hex } from 'viem';
import { ConflictError, InvalidInputError } from '../protocol/errors.ts';
import { blobStatus, DaClientErrorCode, retrieveBlob, sampleBlob, submitBlob, waitForBlob } from '../sdk/da/index.ts';
import type { BlobStatus } from '../sdk/da/index.ts';
import { DEFAULT_DEVNET_DIR, readManifest } from '../sdk/index.ts';
import type { Manifest } from '../sdk/index.ts';
import { printJson, positiveInt, lines } from './common.ts';
import { progressBar } from './progress.ts';

type DaFlags = { devnet: string; aggregator?: string; rpc?: string; contract?: string; json?: boolean };

/** Exit code of `da sample` when the root looks unavailable (0 when available, 1 on errors). */
export const EXIT_UNAVAILABLE = 2;

/** `levity da submit|status|get|sample`: certified data availability on the devnet's DA committee. */
export function registerDa(program: Command): void {
  const da = program.command('da').description('submit payloads for DA certification, read them back, sample their availability');

  daFlags(da.command('submit <file>'))
    .description('stream a file (≤ 16 MiB) to the aggregator; waits for its certificate and prints the data root')
    .option('--no-wait', 'print the submission id as soon as the aggregator accepted the file')
    .option('--timeout <seconds>', 'limit on the wait for the certificate', positiveInt('--timeout'), 300)
    .action(async (file: string, flags: DaFlags & { wait: boolean; timeout: number }) => {
      const aggregator = await aggregatorUrl(flags);
      const bar = progressBar();
      const started = performance.now();
      const accepted = await submitBlob({ aggregator, path: file, onProgress: (sent, total) => bar.update('upload', sent, total) }).finally(() => bar.finish());
      if (!flags.wait) {
        if (flags.json) return printJson(accepted);
        return lines([
          ['id', accepted.id],
          ['status', accepted.status],
          ['size', `${accepted.size} bytes`],
        ]);
      }
      const status = await waitForBlob({
        aggregator,
        id: accepted.id,
        timeoutMs: flags.timeout * 1000,
        onStatus: (s) => bar.update(s.status, s.status === 'confirmed' ? 3 : s.status === 'dispersed' ? 2 : 1, 3, false),
      }).finally(() => bar.finish());
      const seconds = (performance.now() - started) / 1000;
      const mbps = accepted.size / 1e6 / seconds;
      if (flags.json) return printJson({ ...status, seconds, mbps });
      printStatus(status, [['speed', `${mbps.toFixed(2)} MB/s (${seconds.toFixed(2)} s from upload to certificate)`]]);
    });

  daFlags(da.command('status <id>'))
    .description("a submission's state: pending, dispersed, confirmed (with its certificate) or failed")
    .action(async (id: string, flags: DaFlags) => {
      const status = await blobStatus({ aggregator: await aggregatorUrl(flags), id });
      if (flags.json) return printJson(status);
      printStatus(status);
    });

  daFlags(da.command('get <root> <out>'))
    .description('read a certified payload back from the DA nodes, checking every cell; refuses to overwrite OUT')
    .action(async (root: string, out: string, flags: DaFlags) => {
      assertRoot(root);
      if (await exists(out)) throw new ConflictError(DaClientErrorCode.outputExists, `${out} already exists; refusing to overwrite it`);
      const chain = await chainEndpoints(flags);
      const bar = progressBar();
      const started = performance.now();
      const result = await retrieveBlob({
        ...chain,
        root,
        onProgress: (p) => bar.update(p.phase, p.done, p.total, p.phase === 'fetch'),
      }).finally(() => bar.finish());
      await writeNew(out, result.payload);
      const seconds = (performance.now() - started) / 1000;
      const { report } = result;
      for (const bad of report.badNodes) process.stderr.write(`warning: node ${bad.index} (${bad.url}) ${bad.reason}\n`);
      for (const node of report.unreachable) process.stderr.write(`warning: node ${node.index} (${node.url}) skipped: ${node.reason}\n`);
      const summary = { root: result.root, out, bytes: result.payload.length, blobs: result.header.blobCount, ...report, seconds };
      if (flags.json) return printJson(summary);
      lines([
        ['root', result.root],
        ['out', out],
        ['size', `${result.payload.length} bytes`],
        ['blobs', `${result.header.blobCount} (${report.recovered} recovered from extension cells)`],
        ['bad nodes', report.badNodes.length === 0 ? 'none' : report.badNodes.map((b) => `${b.index} (${b.cells} bad cells)`).join(', ')],
        ['speed', `${(result.payload.length / 1e6 / seconds).toFixed(2)} MB/s (${seconds.toFixed(2)} s), every cell verified`],
      ]);
    });

  daFlags(da.command('sample <root>'))
    .description(
      'check availability by sampling random cells and their proofs, without downloading the payload.\n' +
        `Exit code: 0 when available, ${EXIT_UNAVAILABLE} when unavailable (confidence < 0.999), 1 on errors`,
    )
    .option('--k <n>', 'cells to sample', positiveInt('--k'), 30)
    .action(async (root: string, flags: DaFlags & { k: number }) => {
      assertRoot(root);
      const result = await sampleBlob({ ...(await chainEndpoints(flags)), root, k: flags.k });
      if (flags.json) printJson(result);
      else {
        lines([
          ['root', root],
          ['verdict', result.available ? 'available' : 'UNAVAILABLE'],
          ['confidence', `${result.confidence.toFixed(6)} (an unrecoverable payload answers this well with p ≤ ${(1 - result.confidence).toExponential(1)})`],
          ['samples', `${result.ok} of ${result.k} verified, ${result.failed} failed`],
        ]);
      }
      if (!result.available) process.exitCode = EXIT_UNAVAILABLE;
    });
}

function daFlags(command: Command): Command {
  return command
    .option('--devnet <dir|url>', 'devnet data dir (or its manifest file or URL) whose manifest names the endpoints', DEFAULT_DEVNET_DIR)
    .option('--aggregator <url>', 'DA aggregator URL (instead of the manifest)')
    .option('--rpc <url>', 'EVM JSON-RPC URL (instead of the manifest)')
    .option('--contract <address>', 'DataAvailability contract (instead of the manifest)')
    .option('--json', 'print JSON');
}

async function aggregatorUrl(flags: DaFlags): Promise<string> {
  if (flags.aggregator) return flags.aggregator;
  const manifest = await readManifest({ devnet: flags.devnet });
  const url = manifest.da?.aggregator;
  if (!url) throw new InvalidInputError('CLI_NO_DA', `the devnet at ${flags.devnet} runs no DA aggregator; pass --aggregator URL`);
  return url;
}

/** The chain and contract a read needs: flags first, the manifest only for what is missing. */
async function chainEndpoints(flags: DaFlags): Promise<{ rpc: string; contract: Address }> {
  const manifest: Manifest | undefined = flags.rpc && flags.contract ? undefined : await readManifest({ devnet: flags.devnet });
  const rpc = flags.rpc ?? manifest?.chain.rpc;
  const contract = flags.contract ?? manifest?.chain.contracts.DataAvailability;
  if (!rpc) throw new InvalidInputError('CLI_NO_CHAIN', 'no chain RPC; pass --rpc URL');
  if (!contract) throw new InvalidInputError('CLI_NO_DA', `the devnet at ${flags.devnet} has no DataAvailability contract; pass --contract ADDRESS`);
  if (!/^0x[0-9a-fA-F]{40}$/.test(contract)) throw new InvalidInputError('CLI_INVALID_ARGUMENT', `--contract must be a 20-byte 0x address, not "${contract}"`);
  return { rpc, contract: contract as Address };
}

function printStatus(status: BlobStatus, extra: Array<[string, string]> = []): void {
  const rows: Array<[string, string]> = [
    ['id', status.id],
    ['status', status.status],
  ];
  if (status.dataRoot) rows.push(['data root', status.dataRoot]);
  if (status.epoch !== undefined) rows.push(['epoch', status.epoch]);
  rows.push(['size', `${status.payloadSize} bytes`]);
  if (status.blobCount !== undefined) rows.push(['blobs', String(status.blobCount)]);
  if (status.signers) rows.push(['signers', `${status.signers.length} (nodes ${status.signers.join(', ')})`]);
  if (status.txHash) rows.push(['tx hash', status.txHash]);
  if (status.gasUsed !== undefined) rows.push(['gas', status.gasUsed]);
  if (status.timings) {
    const phases = Object.entries({ encode: status.timings.encodeMs, disperse: status.timings.disperseMs, certify: status.timings.certifyMs });
    const done = phases.filter((phase): phase is [string, number] => phase[1] !== undefined);
    rows.push(['timings', done.map(([name, ms]) => `${name} ${Math.round(ms)} ms`).join(', ')]);
  }
  if (status.error) rows.push(['error', `${status.error.code}: ${status.error.message}`]);
  lines([...rows, ...extra]);
}

function assertRoot(root: string): asserts root is Hex {
  if (!/^0x[0-9a-fA-F]{64}$/.test(root)) throw new InvalidInputError('CLI_INVALID_ARGUMENT', `ROOT must be 0x and 64 hex digits, not "${root}"`);
}

async function exists(path: string): Promise<boolean> {
  return access(path, constants.F_OK).then(
    () => true,
    () => false,
  );
}

/** Writes through `OUT.partial` and renames, so OUT never exists half-written; fails if OUT appeared meanwhile. */
async function writeNew(out: string, bytes: Uint8Array): Promise<void> {
  const partial = `${out}.partial`;
  const handle = await open(partial, 'wx');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (await exists(out)) {
    await unlink(partial);
    throw new ConflictError(DaClientErrorCode.outputExists, `${out} appeared while reading; refusing to overwrite it`);
  }
  await rename(partial, out);
}


