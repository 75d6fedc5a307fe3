import { createInterface } from 'node:readline';
import type { Interface } from 'node:readline';
import type { Command } from 'commander';
import { errorMessage } from '../protocol/errors.ts';
import { DEFAULT_DEVNET_DIR, evalLua, readResults, resultError, resultPrompt, resultText } from '../sdk/index.ts';
import type { AoResult } from '../sdk/index.ts';
import { acceptDashIds, aoUnits, aoWallet, assertId, plain } from './ao.ts';
import type { AoFlags } from './ao.ts';

const DEFAULT_PROMPT = 'aos> ';
const CONTINUATION_PROMPT = '...> ';
const POLL_MS = 1000;

/** `levity aos PID`: an aos-style Lua REPL in a process the wallet owns. */
export function registerAos(program: Command): void {
  acceptDashIds(program.command('aos <pid>'))
    .description('interactive Lua REPL in a process you own, like aos (reads piped stdin too)')
    .option('--devnet <dir|url>', 'devnet data dir (or its manifest file or URL) whose manifest names the AO units', DEFAULT_DEVNET_DIR)
    .option('--wallet <file>', 'the process owner\'s wallet (default: DIR/cli-wallet.json)')
    .action(async (pid: string, flags: Omit<AoFlags, 'json'>) => {
      assertId('PID', pid);
      const units = await aoUnits(flags);
      const wallet = await aoWallet(flags);
      const failures = await runRepl({ mu: units.mu, cu: units.cu, pid, signer: wallet.signer });
      // Piped input is a script: say whether every chunk ran.
      if (failures > 0 && process.stdin.isTTY !== true) process.exitCode = 1;
    });
}

type ReplOptions = { mu: string; cu: string; pid: string; signer: Parameters<typeof evalLua>[0]['signer'] };

/**
 * Reads chunks (a line, or lines joined by a trailing `\`), evaluates each as an `Eval`, and prints
 * what it printed. Meanwhile a poller reads the process's new results every second and prints
 * those this REPL did not cause itself, such as aos's "New Message From ..." for inbox arrivals.
 * Resolves with the number of chunks that failed, once stdin ends or the user leaves.
 */
async function runRepl(options: ReplOptions): Promise<number> {
  const interactive = process.stdin.isTTY === true;
  const colours = process.stdout.isTTY === true;
  const abort = new AbortController();
  const rl = createInterface({ input: process.stdin, output: interactive ? process.stdout : undefined, terminal: interactive });
  // Take the iterator before the first await: piped lines read meanwhile would otherwise be lost.
  const lines = rl[Symbol.asyncIterator]();
  let prompt = DEFAULT_PROMPT;
  let closed = false;
  let failures = 0;

  // Leaving aborts what is in flight. The end of input is not leaving: piped lines are still
  // queued in the iterator when readline closes, and each must run.
  const close = () => {
    if (closed) return;
    closed = true;
    abort.abort();
    rl.close();
  };
  rl.on('SIGINT', close);
  process.once('SIGINT', close);

  const feed = liveFeed(options, rl, interactive, colours, abort.signal);
  await feed.start();
  const timer = setInterval(() => void feed.poll(), POLL_MS);

  const say = (text: string) => process.stdout.write(`${plain(text, colours)}\n`);
  const complain = (text: string) => process.stderr.write(`${plain(text, process.stderr.isTTY === true).trim()}\n`);
  const showPrompt = (text: string) => {
    if (!interactive || closed) return;
    rl.setPrompt(text);
    rl.prompt();
  };

  try {
    const pending: string[] = [];
    showPrompt(prompt);
    for await (const line of { [Symbol.asyncIterator]: () => lines }) {
      if (closed) break;
      if (pending.length === 0 && line.trim() === '.exit') break;
      if (line.endsWith('\\')) {
        pending.push(line.slice(0, -1));
        showPrompt(CONTINUATION_PROMPT);
        continue;
      }
      pending.push(line);
      const code = pending.splice(0).join('\n');
      if (code.trim() === '') {
        showPrompt(prompt);
        continue;
      }
      feed.busy = true;
      try {
        const { result } = await evalLua({ mu: options.mu, cu: options.cu, signer: options.signer, process: options.pid, code, signal: abort.signal });
        feed.own(result);
        const text = resultText(result);
        if (text !== '') say(text);
        const error = resultError(result);
        if (error !== undefined) {
          failures += 1;
          complain(error);
        }
        prompt = resultPrompt(result) ?? prompt;
      } catch (error) {
        if (closed) break;
        failures += 1;
        complain(`error: ${errorMessage(error)}`);
      } finally {
        feed.busy = false;
      }
      showPrompt(prompt);
    }
    // Whatever arrived while the last chunks ran is still worth showing before a script ends.
    if (!closed) {
      await feed.poll();
      await feed.poll();
    }
  } finally {
    clearInterval(timer);
    process.removeListener('SIGINT', close);
    close();
    if (interactive) process.stdout.write('\n');
  }
  return failures;
}

/**
 * Follows `GET /results/PID?from=<cursor>&sort=ASC`. Results of this REPL's own evaluations are
 * skipped by content (a results page carries no message ids); while an evaluation is in flight
 * a page is not consumed at all, because its result may be in it before we have it to compare.
 */
function liveFeed(options: ReplOptions, rl: Interface, interactive: boolean, colours: boolean, signal: AbortSignal) {
  let cursor: string | undefined;
  let inflight: Promise<void> | undefined;
  let lastError: string | undefined;
  const mine: string[] = [];

  const print = (result: AoResult) => {
    const text = resultText(result);
    if (text === '') return;
    if (interactive) {
      // Put the line above the prompt and redraw what the user was typing.
      process.stdout.write('\r\x1b[K');
      process.stdout.write(`${plain(text, colours)}\n`);
      rl.prompt(true);
    } else {
      process.stdout.write(`${plain(text, colours)}\n`);
    }
  };

  const feed = {
    busy: false,
    /** Starts after the newest result, so history is not replayed. */
    async start() {
      const page = await readResults({ cu: options.cu, process: options.pid, sort: 'DESC', limit: 1, signal });
      cursor = page.edges[0]?.cursor;
    },
    own(result: AoResult) {
      mine.push(JSON.stringify(result));
      if (mine.length > 100) mine.shift();
    },
    /** One round of reading; a call during a round waits for that round instead of starting another. */
    poll(): Promise<void> {
      if (feed.busy || signal.aborted) return Promise.resolve();
      inflight ??= read().finally(() => (inflight = undefined));
      return inflight;
    },
  };

  async function read(): Promise<void> {
    try {
      for (;;) {
        const page = await readResults({ cu: options.cu, process: options.pid, from: cursor, sort: 'ASC', limit: 100, signal });
        if (feed.busy) return;
        for (const edge of page.edges) {
          cursor = edge.cursor;
          const at = mine.indexOf(JSON.stringify(edge.node));
          if (at >= 0) mine.splice(at, 1);
          else print(edge.node);
        }
        if (!page.hasNextPage || page.edges.length === 0) break;
      }
      lastError = undefined;
    } catch (error) {
      if (signal.aborted) return;
      // Once per distinct failure: a CU restart must not flood the terminal every second.
      const message = errorMessage(error);
      if (message !== lastError) process.stderr.write(`live feed: ${message}\n`);
      lastError = message;
    }
  }
  return feed;
}
