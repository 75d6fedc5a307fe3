import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Manifest } from '../../src/protocol/manifest.ts';

export const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export type CliResult = { code: number | null; stdout: string; stderr: string };

/** Runs `levity ...args` to completion with the same Node as the tests; `input`, if given, is piped to stdin. */
export function runCli(args: string[], timeoutMs = 60_000, input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (input !== undefined) child.stdin!.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export type RunningDevnet = {
  manifest: Manifest;
  child: ChildProcess;
  stdout: () => string;
  /** What it logged (warnings and errors at the tests' log level), for failure messages. */
  stderr: () => string;
  /** SIGTERM, then waits for exit; resolves with the exit code and how long the stop took. */
  stop(): Promise<{ code: number | null; ms: number }>;
};

/**
 * Starts `levity up` as a real child process on OS-assigned ports and waits until it
 * prints that it is up; the manifest it wrote is read back.
 */
export async function startDevnet(
  dataDir: string,
  extraArgs: string[] = [],
  timeoutMs = 60_000,
  env: Record<string, string> = {},
): Promise<RunningDevnet> {
  const child = spawn(process.execPath, [CLI, 'up', '--data-dir', dataDir, '--port-base', '0', '--log-level', 'warn', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`levity up did not come up in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    const check = () => {
      if (stdout.includes('Press Ctrl-C to stop.')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`levity up exited with ${code} before it was up\n${stderr}`));
    });
  });

  const manifest = JSON.parse(await readFile(join(dataDir, 'manifest.json'), 'utf8')) as Manifest;
  return {
    manifest,
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    async stop() {
      const started = Date.now();
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      return { code, ms: Date.now() - started };
    },
  };
}

export type RunningNode = {
  endpoints: { key: string; role: string; url: string }[];
  contracts: Record<string, string>;
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
};

/** Starts `levity node ...args --json` and waits for the endpoints it prints once ready. */
export async function startNode(args: string[], timeoutMs = 60_000, env: Record<string, string> = {}): Promise<RunningNode> {
  const child = spawn(process.execPath, [CLI, 'node', ...args, '--json', '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = await new Promise<Pick<RunningNode, 'endpoints' | 'contracts'>>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`levity node did not come up in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      try {
        resolve(JSON.parse(stdout));
        clearTimeout(timer);
      } catch {
        // not all of it yet
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`levity node exited with ${code} before it was up\n${stderr}`));
    });
  });
  return {
    ...ready,
    child,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
