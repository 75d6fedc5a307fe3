import type { Command } from 'commander';
import { probeEndpoints, readManifest, DEFAULT_DEVNET_DIR } from '../sdk/index.ts';
import { printJson } from './common.ts';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('probe every endpoint in a devnet manifest and report its health')
    .option('--devnet <dir|url>', 'devnet data dir (or its manifest file or URL)', DEFAULT_DEVNET_DIR)
    .option('--json', 'print JSON')
    .action(async (flags: { devnet: string; json?: boolean }) => {
      const manifest = await readManifest({ devnet: flags.devnet });
      const results = await probeEndpoints({ manifest });
      const healthy = results.every((r) => r.ok);
      if (flags.json) {
        printJson({ devnet: manifest.dataDir, healthy, endpoints: results });
      } else {
        const roleWidth = Math.max(4, ...results.map((r) => r.role.length));
        const urlWidth = Math.max(3, ...results.map((r) => r.url.length));
        const lines = [`${'role'.padEnd(roleWidth)}  ${'url'.padEnd(urlWidth)}  state  ms    detail`];
        for (const r of results) {
          lines.push(
            `${r.role.padEnd(roleWidth)}  ${r.url.padEnd(urlWidth)}  ${(r.ok ? 'up' : 'DOWN').padEnd(5)}  ${String(r.latencyMs).padEnd(4)}  ${r.detail}`,
          );
        }
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      if (!healthy) process.exitCode = 1;
    });
}
