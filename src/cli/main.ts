#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerAo } from './ao.ts';
import { registerAos } from './aos.ts';
import { registerDa } from './da.ts';
import { registerServing } from './serving.ts';
import { EXIT_USAGE, exitCodeFor } from './common.ts';
import { registerNode } from './node.ts';
import { registerStatus } from './status.ts';
import { registerStorage } from './storage.ts';
import { registerUp } from './up.ts';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('levity')
  .description('Levity: a decentralized AI operating system devnet')
  .version(version)
  .showSuggestionAfterError()
  .exitOverride()
  // Commander's own usage errors become one line; the exit code is ours (2) below.
  .configureOutput({ outputError: (message, write) => write(message.split('\n')[0]!.replace(/^error: /, 'levity: ') + '\n') });

registerUp(program);
registerStatus(program);
registerNode(program);
registerStorage(program);
registerAo(program);
registerAos(program);
registerDa(program);
registerServing(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    const quiet = ['commander.helpDisplayed', 'commander.version'].includes(error.code);
    process.exitCode = quiet ? 0 : EXIT_USAGE;
  } else {
    process.exitCode = exitCodeFor(error);
  }
}
