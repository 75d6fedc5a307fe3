import type { Command } from 'commander';
import { createDevnet } from '../devnet/create-devnet.ts';
import { formatDevnet } from '../devnet/print-devnet.ts';
import { addNodeFlags, cliLogger, configFromFlags, printJson } from './common.ts';
import type { NodeFlags } from './common.ts';
import { runUntilSignal } from './run-until-signal.ts';

export function registerUp(program: Command): void {
  addNodeFlags(program.command('up'))
    .description('start the whole devnet in this process and write DIR/manifest.json')
    .option('--json', 'print the manifest as JSON instead of the table')
    .action(async (flags: NodeFlags & { json?: boolean }) => {
      const { config, warnings } = configFromFlags(flags);
      const log = cliLogger(config);
      for (const warning of warnings) log.warn(warning);
      const devnet = createDevnet({ config, log });
      await runUntilSignal(devnet, log, () => {
        const { manifest } = devnet;
        if (flags.json) return printJson(manifest);
        const embedded = !config.chain.rpc;
        process.stdout.write(
          `${formatDevnet(manifest, devnet.manifestPath, {
            balanceWei: embedded ? BigInt(config.chain.balanceEth) * 10n ** 18n : undefined,
            wsUrl: embedded ? manifest.chain.rpc.replace(/^http/, 'ws') : undefined,
          })}\n`,
        );
      });
    });
}
