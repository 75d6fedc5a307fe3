import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { isTxId } from '../protocol/ans104/index.ts';
import { parseCronInterval } from '../protocol/ao/index.ts';
import type { Tag } from '../protocol/ao/index.ts';
import { InvalidInputError } from '../protocol/errors.ts';
import {
  DEFAULT_DEVNET_DIR,
  dryRun,
  evalLua,
  loadAoSigner,
  loadOrCreateAoWallet,
  monitorProcess,
  publishModule,
  readManifest,
  readResult,
  readResults,
  resultError,
  resultText,
  sendMessage,
  spawnProcess,
  unmonitorProcess,
} from '../sdk/index.ts';
import type { AoResult, LoadAoSignerReturnType, Manifest } from '../sdk/index.ts';
import { printJson } from './common.ts';

export type AoFlags = { devnet: string; wallet?: string; json?: boolean };
type AoSection = NonNullable<Manifest['ao']>;
type TagFlags = { tag: Tag[] };

/** `levity ao ...`: spawn, message and inspect AO processes on a devnet. */
export function registerAo(program: Command): void {
  const ao = program.command('ao').description('spawn AO processes, send them messages, read their results');

  aoFlags(ao.command('spawn'))
    .description('spawn a process (Lua runtime by default); prints its id')
    .option('--lua <file>', 'Lua source the process evaluates when it boots (On-Boot=Data)')
    .option('--module <id>', "module id (default: the devnet's built-in Lua runtime)")
    .option('--name <name>', 'Name tag')
    .option('--tag <name=value>', 'extra tag, repeatable', collectTag, [])
    .option('--cron <interval>', 'Cron-Interval, e.g. 10-seconds, 1-minute, 5-blocks')
    .option('--cron-action <action>', 'Action of the cron messages (Cron-Tag-Action)')
    .action(async (flags: AoFlags & TagFlags & { lua?: string; module?: string; name?: string; cron?: string; cronAction?: string }) => {
      if (flags.module !== undefined) assertId('--module', flags.module);
      if (flags.cronAction !== undefined && flags.cron === undefined) usage('--cron-action needs --cron INTERVAL');
      if (flags.cron !== undefined) parseCronInterval(flags.cron);
      const data = flags.lua === undefined ? undefined : await readInputFile(flags.lua, '--lua');
      const { units, wallet } = await context(flags);
      const module = flags.module ?? units.modules.lua;
      if (!module) usage(`the devnet at ${flags.devnet} lists no Lua module; pass --module ID`);
      const tags: Tag[] = [];
      if (flags.name !== undefined) tags.push({ name: 'Name', value: flags.name });
      if (flags.cron !== undefined) {
        tags.push({ name: 'Cron-Interval', value: flags.cron }, { name: 'Cron-Tag-Action', value: flags.cronAction ?? 'Cron' });
      }
      if (data !== undefined) tags.push({ name: 'On-Boot', value: 'Data' });
      tags.push(...flags.tag);
      const { processId } = await spawnProcess({
        mu: units.mu,
        signer: wallet.signer,
        module,
        scheduler: units.scheduler,
        authority: units.authority,
        tags,
        data,
      });
      if (flags.json) return printJson({ processId, module, owner: wallet.address, scheduler: units.scheduler, authority: units.authority });
      process.stdout.write(`${processId}\n`);
    });

  aoFlags(ao.command('send <pid>'))
    .description('send a message to a process; prints its id (and its result with --wait)')
    .requiredOption('--action <action>', 'Action tag')
    .option('--data <data>', 'message data')
    .option('--tag <name=value>', 'extra tag, repeatable', collectTag, [])
    .option('--wait', 'wait for the evaluation and print its result')
    .action(async (pid: string, flags: AoFlags & TagFlags & { action: string; data?: string; wait?: boolean }) => {
      assertId('PID', pid);
      const { units, wallet } = await context(flags);
      const tags: Tag[] = [{ name: 'Action', value: flags.action }, ...flags.tag];
      const { messageId } = await sendMessage({ mu: units.mu, signer: wallet.signer, process: pid, tags, data: flags.data });
      const result = flags.wait ? await readResult({ cu: units.cu, process: pid, message: messageId }) : undefined;
      if (flags.json) {
        printJson(result ? { messageId, result } : { messageId });
        if (result) failOnError(result, false);
        return;
      }
      process.stdout.write(`${messageId}\n`);
      if (result) printResult(result);
    });

  aoFlags(ao.command('result <pid> <message>'))
    .description('the result of one message (waits until it is evaluated)')
    .action(async (pid: string, message: string, flags: AoFlags) => {
      assertId('PID', pid);
      assertId('MESSAGE', message);
      const units = await aoUnits(flags);
      const result = await readResult({ cu: units.cu, process: pid, message });
      if (flags.json) {
        printJson(result);
        return failOnError(result, false);
      }
      printResult(result);
    });

  aoFlags(ao.command('results <pid>'))
    .description("a page of the process's stored results (failed evaluations are not kept)")
    .option('--limit <n>', 'results per page', positiveInt('--limit'), 25)
    .option('--sort <order>', 'ASC (oldest first) or DESC', parseSort, 'ASC' as const)
    .option('--from <cursor>', 'start after this cursor')
    .action(async (pid: string, flags: AoFlags & { limit: number; sort: 'ASC' | 'DESC'; from?: string }) => {
      assertId('PID', pid);
      const units = await aoUnits(flags);
      const page = await readResults({ cu: units.cu, process: pid, limit: flags.limit, sort: flags.sort, from: flags.from });
      if (flags.json) return printJson(page);
      if (page.edges.length === 0) process.stdout.write('no results\n');
      page.edges.forEach((edge, index) => {
        process.stdout.write(`# ${index + 1}  cursor ${edge.cursor}\n`);
        printResult(edge.node);
      });
      if (page.hasNextPage) process.stdout.write(`more: --from ${page.edges.at(-1)?.cursor}\n`);
    });

  aoFlags(ao.command('dryrun <pid>'))
    .description('evaluate a message against the latest state without keeping its effects')
    .option('--action <action>', 'Action tag')
    .option('--data <data>', 'message data')
    .option('--tag <name=value>', 'extra tag, repeatable', collectTag, [])
    .action(async (pid: string, flags: AoFlags & TagFlags & { action?: string; data?: string }) => {
      assertId('PID', pid);
      const { units, wallet } = await context(flags);
      const tags: Tag[] = flags.action === undefined ? [...flags.tag] : [{ name: 'Action', value: flags.action }, ...flags.tag];
      // From our own address, so handlers that answer only the owner answer a dry run too.
      const result = await dryRun({ cu: units.cu, process: pid, tags, data: flags.data, owner: wallet.address });
      if (flags.json) {
        printJson(result);
        return failOnError(result, false);
      }
      printResult(result);
    });

  aoFlags(ao.command('eval <pid> [code]'))
    .description('evaluate Lua in a process you own (as the aos REPL does)')
    .option('--file <file>', 'read the Lua code from a file')
    .action(async (pid: string, code: string | undefined, flags: AoFlags & { file?: string }) => {
      assertId('PID', pid);
      if (code !== undefined && flags.file !== undefined) usage('give the Lua code as CODE or with --file FILE, not both');
      if (code === undefined && flags.file === undefined) usage('give the Lua code as CODE or with --file FILE');
      const source = code ?? (await readInputFile(flags.file!, '--file')).toString('utf8');
      if (source.trim() === '') usage('the Lua code is empty');
      const { units, wallet } = await context(flags);
      const { messageId, result } = await evalLua({ mu: units.mu, cu: units.cu, signer: wallet.signer, process: pid, code: source });
      if (flags.json) {
        printJson({ messageId, result });
        return failOnError(result, false);
      }
      printResult(result);
    });

  aoFlags(ao.command('monitor <pid>'))
    .description("have the MU run the process's crons and push their messages")
    .action(async (pid: string, flags: AoFlags) => monitorCommand(pid, flags, true));

  aoFlags(ao.command('unmonitor <pid>'))
    .description('stop monitoring a process')
    .action(async (pid: string, flags: AoFlags) => monitorCommand(pid, flags, false));

  aoFlags(ao.command('publish-module <file>'))
    .description('publish a module (Lua source by default) to the gateway; prints its id')
    .option('--memory-limit <size>', 'Memory-Limit, e.g. 512-mb or 1-gb')
    .option('--compute-limit <n>', 'Compute-Limit')
    .option('--format <format>', 'Module-Format (default: lua-5.4-levity)')
    .option('--name <name>', 'Name tag')
    .action(async (file: string, flags: AoFlags & { memoryLimit?: string; computeLimit?: string; format?: string; name?: string }) => {
      const source = await readInputFile(file, 'FILE');
      const { units, wallet } = await context(flags);
      const { moduleId } = await publishModule({
        gateway: units.gateway,
        signer: wallet.signer,
        source,
        format: flags.format,
        memoryLimit: flags.memoryLimit,
        computeLimit: flags.computeLimit,
        name: flags.name,
      });
      if (flags.json) return printJson({ moduleId, owner: wallet.address });
      process.stdout.write(`${moduleId}\n`);
    });
}

async function monitorCommand(pid: string, flags: AoFlags, on: boolean): Promise<void> {
  assertId('PID', pid);
  const { units, wallet } = await context(flags);
  const action = on ? monitorProcess : unmonitorProcess;
  const { id } = await action({ mu: units.mu, signer: wallet.signer, process: pid });
  if (flags.json) return printJson({ process: pid, monitoring: on, id });
  process.stdout.write(`${on ? 'monitoring' : 'stopped monitoring'} ${pid}\n`);
}

/** The flags every `ao` command takes. */
export function aoFlags(command: Command): Command {
  return acceptDashIds(command)
    .option('--devnet <dir|url>', 'devnet data dir (or its manifest file or URL) whose manifest names the AO units', DEFAULT_DEVNET_DIR)
    .option('--wallet <file>', 'Arweave JWK or Levity ed25519 wallet (default: DIR/cli-wallet.json, created on first use)')
    .option('--json', 'print JSON');
}

/**
 * Ids are base64url, so one in 64 starts with `-`, which commander would take for an option (and
 * `-h...` for help). Before the command parses, every argument that is not an option or an
 * option's value is moved, in order, behind a `--`, so `levity ao send -Ez...` just works.
 */
export function acceptDashIds(command: Command): Command {
  const parseOptions = command.parseOptions.bind(command);
  command.parseOptions = (args: string[]) => parseOptions(args.some(isDashId) ? operandsLast(command, args) : args);
  return command;
}

function isDashId(arg: string): boolean {
  return arg.startsWith('-') && isTxId(arg);
}

function operandsLast(command: Command, args: string[]): string[] {
  const options: string[] = [];
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      operands.push(...args.slice(i + 1));
      break;
    }
    const option = command.options.find((known) => known.long === arg || known.short === arg);
    if (option) {
      options.push(arg);
      if (option.required && i + 1 < args.length) options.push(args[++i]!);
    } else if (arg.startsWith('-') && !isDashId(arg)) {
      options.push(arg);
    } else {
      operands.push(arg);
    }
  }
  return [...options, '--', ...operands];
}

export async function aoUnits(flags: Pick<AoFlags, 'devnet'>): Promise<AoSection> {
  const manifest = await readManifest({ devnet: flags.devnet });
  if (!manifest.ao) throw new InvalidInputError('CLI_NO_AO', `the devnet at ${flags.devnet} runs no AO units`);
  return manifest.ao;
}

/**
 * The signing wallet: `--wallet FILE` must exist (a typo must not silently make a new identity);
 * the default one is created on first use, which stderr mentions once.
 */
export async function aoWallet(flags: Pick<AoFlags, 'devnet' | 'wallet'>): Promise<LoadAoSignerReturnType> {
  if (flags.wallet !== undefined) return loadAoSigner(flags.wallet);
  const file = join(flags.devnet, 'cli-wallet.json');
  const wallet = await loadOrCreateAoWallet(file);
  if (wallet.created) process.stderr.write(`created wallet ${file} (address ${wallet.address})\n`);
  return wallet;
}

async function context(flags: AoFlags): Promise<{ units: AoSection; wallet: LoadAoSignerReturnType }> {
  const units = await aoUnits(flags);
  return { units, wallet: await aoWallet(flags) };
}

export function usage(message: string): never {
  throw new InvalidInputError('CLI_INVALID_ARGUMENT', message);
}

export function assertId(what: string, value: string): void {
  if (!isTxId(value)) usage(`${what} must be a 43-character base64url id, not "${value.slice(0, 64)}"`);
}

function collectTag(value: string, previous: Tag[]): Tag[] {
  const at = value.indexOf('=');
  const name = at < 0 ? '' : value.slice(0, at).trim();
  if (at < 0 || name === '') usage(`--tag must be NAME=VALUE, not "${value}"`);
  return [...previous, { name, value: value.slice(at + 1) }];
}

function parseSort(value: string): 'ASC' | 'DESC' {
  const sort = value.toUpperCase();
  if (sort !== 'ASC' && sort !== 'DESC') usage(`--sort must be ASC or DESC, not "${value}"`);
  return sort;
}

function positiveInt(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) usage(`${flag} must be a whole number ≥ 1, not "${value}"`);
    return n;
  };
}

async function readInputFile(file: string, flag: string): Promise<Buffer> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) usage(`${flag}: ${file} is not a readable file`);
  const bytes = await readFile(file);
  if (bytes.length === 0) usage(`${flag}: ${file} is empty`);
  return bytes;
}

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** aos colours numbers, prompts and errors; colours only help on a terminal. */
export function plain(text: string, keepColours = false): string {
  return keepColours ? text : text.replace(ANSI, '');
}

/** Output text, then one line per outbox message and spawn; an Error goes to stderr and sets exit 1. */
export function printResult(result: AoResult): void {
  const text = resultText(result);
  if (text !== '') process.stdout.write(`${plain(text, process.stdout.isTTY === true)}\n`);
  for (const message of result.Messages) process.stdout.write(`${outboxLine('→', message)}\n`);
  for (const spawn of result.Spawns) process.stdout.write(`${outboxLine('spawn', spawn)}\n`);
  failOnError(result, true);
}

function failOnError(result: AoResult, print: boolean): void {
  const error = resultError(result);
  if (error === undefined) return;
  if (print) process.stderr.write(`${plain(error).trim()}\n`);
  process.exitCode = 1;
}

function outboxLine(arrow: string, message: { Target?: string; Data?: string; Tags: Tag[] }): string {
  const action = message.Tags?.find((tag) => tag.name === 'Action')?.value;
  const parts = [arrow, message.Target ?? '-'];
  if (action !== undefined) parts.push(`Action=${action}`);
  const data = typeof message.Data === 'string' ? message.Data : message.Data === undefined ? '' : JSON.stringify(message.Data);
  if (data !== '') parts.push(`Data=${JSON.stringify(data.length > 80 ? `${data.slice(0, 77)}...` : data)}`);
  return parts.join('  ');
}
