import { Option } from 'commander';
import type { Command } from 'commander';
import { InvalidInputError, LevityError, errorMessage } from '../protocol/errors.ts';
import { loadConfig } from '../shared/config.ts';
import type { DeepPartial, LevityConfig } from '../shared/config.ts';
import { createLogger } from '../shared/log.ts';
import type { Logger } from '../shared/log.ts';

/** Exit codes: 1 for a failure at run time, 2 for bad usage (flags, config). */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export type NodeFlags = {
  dataDir?: string;
  portBase?: number;
  host?: string;
  chainRpc?: string;
  chainKey?: string;
  logLevel?: string;
  config?: string;
  model?: string;
  upstream?: string;
};

/** Flags shared by commands that start nodes; each maps onto one config key. */
export function addNodeFlags(command: Command): Command {
  return command
    .option('--data-dir <dir>', 'data dir (default .levity/devnet)')
    .addOption(new Option('--port-base <n>', 'first port; roles use fixed offsets from it (0 = any free ports)').argParser(parsePort))
    .option('--host <host>', 'interface to listen on (default 127.0.0.1)')
    .option('--chain-rpc <url>', 'use this EVM JSON-RPC endpoint instead of the embedded chain')
    .option('--chain-key <hex>', 'private key that deploys and registers on --chain-rpc')
    .option('--log-level <level>', 'trace, debug, info, warn, error, fatal or silent')
    .option('--config <file>', 'config file (default ./levity.config.json if present)')
    .option('--model <path.gguf>', 'the GGUF model the provider serves (default: a generated tiny random model)')
    .option('--upstream <url>', 'the provider proxies this OpenAI-compatible API instead of running a model');
}

export function configFromFlags(flags: NodeFlags): { config: LevityConfig; warnings: string[] } {
  const layer: DeepPartial<LevityConfig> = {
    dataDir: flags.dataDir,
    portBase: flags.portBase,
    host: flags.host,
    log: { level: flags.logLevel as LevityConfig['log']['level'] | undefined },
    chain: { rpc: flags.chainRpc, key: flags.chainKey },
    serving: { model: flags.model, upstream: flags.upstream },
  };
  return loadConfig({ cwd: process.cwd(), flags: layer, configFile: flags.config });
}

/** Logs go to stderr so stdout stays for what the command prints (tables, JSON). */
export function cliLogger(config: LevityConfig): Logger {
  return createLogger({ level: config.log.level, destination: process.stderr });
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidInputError('CLI_INVALID_PORT', `--port-base must be a whole number from 0 to 65535, not "${value}"`);
  }
  return port;
}

/** Prints a failure as one line and picks the exit code: usage errors are 2. */
export function exitCodeFor(error: unknown): number {
  process.stderr.write(`levity: ${oneLine(error)}\n`);
  return error instanceof InvalidInputError ? EXIT_USAGE : EXIT_FAILURE;
}

function oneLine(error: unknown): string {
  const message = errorMessage(error).split('\n')[0] ?? 'unknown error';
  if (error instanceof LevityError && error.details) return `${message} (${error.details})`;
  return message;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
}

/** A commander parser for flags that take a whole number ≥ 1. */
export function positiveInt(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
      throw new InvalidInputError('CLI_INVALID_ARGUMENT', `${flag} must be a whole number ≥ 1, not "${value}"`);
    }
    return n;
  };
}

/** Prints label/value rows with the values aligned. */
export function lines(rows: Array<[string, string]>): void {
  const width = Math.max(...rows.map(([label]) => label.length));
  process.stdout.write(`${rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n')}\n`);
}
