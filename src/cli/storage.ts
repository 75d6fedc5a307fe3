import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Hex } from 'viem';
import { InvalidInputError } from '../protocol/errors.ts';
import { DEFAULT_DEVNET_DIR, downloadFile, fileInfo, readManifest, uploadFile } from '../sdk/index.ts';
import type { Manifest } from '../sdk/index.ts';
import { printJson, positiveInt, lines } from './common.ts';
import { progressBar } from './progress.ts';

type EndpointFlags = { devnet: string; indexer?: string; rpc?: string; json?: boolean };
type UploadFlags = EndpointFlags & { replicas?: number; key?: string; timeout?: number };

/** `levity storage upload|download|info`: files on the devnet's (or any 0G-compatible) storage nodes. */
export function registerStorage(program: Command): void {
  const storage = program.command('storage').description('upload, download and inspect files on storage nodes');

  endpointFlags(storage.command('upload <file>'))
    .description('upload a file; prints its root, tx seq, tx hash and speed')
    .option('--replicas <n>', 'storage nodes that must each hold the file', positiveInt('--replicas'), 1)
    .option('--key <hex>', 'private key that pays for the submission (default: devnet account #1)')
    .option('--timeout <seconds>', 'limit on each wait (receipt, node sync, finality)', positiveInt('--timeout'), 120)
    .action(async (file: string, flags: UploadFlags) => {
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) throw new InvalidInputError('CLI_INVALID_ARGUMENT', `${file} is not a readable file`);
      if (info.size === 0) throw new InvalidInputError('CLI_INVALID_ARGUMENT', `${file} is empty; storage cannot hold empty files`);
      const { indexer, rpc, manifest } = await endpoints(flags);
      const privateKey = flags.key ?? defaultKey(manifest);
      if (!/^0x[0-9a-fA-F]{64}$/.test(privateKey)) throw new InvalidInputError('CLI_INVALID_ARGUMENT', '--key must be 0x and 64 hex digits');
      const bar = progressBar();
      const started = performance.now();
      const result = await uploadFile({
        path: file,
        indexer,
        rpc,
        privateKey: privateKey as Hex,
        replicas: flags.replicas,
        timeoutMs: (flags.timeout ?? 120) * 1000,
        onProgress: (p) => bar.update(p.phase, p.done, p.total, p.phase === 'hash' || p.phase === 'upload'),
      }).finally(() => bar.finish());
      const seconds = (performance.now() - started) / 1000;
      const mbps = result.size / 1e6 / seconds;
      if (flags.json) return printJson({ ...result, seconds, mbps });
      lines([
        ['root', result.root],
        ['tx seq', String(result.txSeq)],
        ['tx hash', result.txHash],
        ['size', `${result.size} bytes`],
        ['nodes', result.nodes.join(', ')],
        ['speed', `${mbps.toFixed(1)} MB/s (${seconds.toFixed(2)} s)${result.alreadyStored ? ', already stored: nothing sent' : ''}`],
      ]);
    });

  endpointFlags(storage.command('download <root> <out>'))
    .description('download a file by root, verifying every segment; refuses to overwrite OUT')
    .action(async (root: string, out: string, flags: EndpointFlags) => {
      const { indexer } = await endpoints(flags, false);
      const bar = progressBar();
      const started = performance.now();
      const result = await downloadFile({ root: root as Hex, out, indexer, onProgress: (p) => bar.update('download', p.done, p.total) }).finally(() =>
        bar.finish(),
      );
      const seconds = (performance.now() - started) / 1000;
      const mbps = result.size / 1e6 / seconds;
      if (flags.json) return printJson({ ...result, seconds, mbps });
      lines([
        ['root', result.root],
        ['out', result.out],
        ['size', `${result.size} bytes`],
        ['tx seq', String(result.txSeq)],
        ['nodes', result.nodes.join(', ')],
        ['speed', `${mbps.toFixed(1)} MB/s (${seconds.toFixed(2)} s), every segment verified`],
      ]);
    });

  endpointFlags(storage.command('info <root>'))
    .description("show every storage node's view of a file (exit 1 when none knows it)")
    .action(async (root: string, flags: EndpointFlags) => {
      const { indexer } = await endpoints(flags, false);
      const result = await fileInfo({ root: root as Hex, indexer });
      if (flags.json) return printJson(result);
      const rows = result.locations.map((l) => {
        const state = l.error ? `unreachable: ${l.error}` : !l.found ? 'unknown' : l.finalized ? 'finalized' : `uploading (${l.uploadedSegNum} segments)`;
        const facts = l.found ? `  size ${l.size}  tx seq ${l.txSeq}` : '';
        return `${l.url}  ${state}${facts}`;
      });
      process.stdout.write(`root ${result.root}\n${rows.join('\n')}\n`);
    });
}

function endpointFlags(command: Command): Command {
  return command
    .option('--devnet <dir|url>', 'devnet data dir (or its manifest file or URL) whose manifest names the endpoints', DEFAULT_DEVNET_DIR)
    .option('--indexer <url>', 'indexer JSON-RPC URL (instead of the manifest)')
    .option('--rpc <url>', 'EVM JSON-RPC URL (instead of the manifest)')
    .option('--json', 'print JSON');
}

/** Endpoints from flags, falling back to the devnet manifest only when a flag is missing. */
async function endpoints(flags: EndpointFlags, needChain = true): Promise<{ indexer: string; rpc: string; manifest?: Manifest }> {
  const complete = flags.indexer && (flags.rpc || !needChain);
  const manifest = complete ? undefined : await readManifest({ devnet: flags.devnet });
  const indexer = flags.indexer ?? manifest?.storage?.indexer;
  if (!indexer) throw new InvalidInputError('CLI_NO_STORAGE', `the devnet at ${flags.devnet} runs no storage indexer; pass --indexer URL`);
  return { indexer, rpc: flags.rpc ?? manifest?.chain.rpc ?? '', manifest };
}

/** Account #1, not #0: the deployer's nonce then never races with uploads. */
function defaultKey(manifest: Manifest | undefined): string {
  const accounts = manifest?.chain.accounts ?? [];
  const account = accounts[1] ?? accounts[0];
  if (!account) throw new InvalidInputError('CLI_NO_KEY', 'no --key given and the devnet manifest lists no accounts');
  return account.privateKey;
}


