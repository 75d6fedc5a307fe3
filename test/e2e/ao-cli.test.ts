/**
 * `levity ao ...` and `levity aos` against one real devnet: every command as a user would type
 * it, in child processes, with the default wallet the CLI creates on first use.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isTxId } from '../../src/protocol/ans104/index.ts';
import { CLI, runCli, startDevnet } from './devnet-process.ts';
import type { CliResult, RunningDevnet } from './devnet-process.ts';

type Tag = { name: string; value: string };
type Result = { Output?: unknown; Messages: { Target: string; Data?: string; Tags: Tag[] }[]; Error?: unknown };

const HANDLERS = `
Handlers.add("Count", "Count", function (msg)
  Count = (Count or 0) + 1
  print("count " .. Count)
end)
Handlers.add("Ping", "Ping", function (msg)
  ao.send({ Target = ao.id, Action = "Pong", Data = "pong:" .. (msg.Data or "") })
end)
Handlers.add("Tick", "Tick", function (msg)
  Ticks = (Ticks or 0) + 1
end)
Booted = "yes"
`;

function ok(result: CliResult): string {
  assert.equal(result.code, 0, `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result.stdout;
}

function json<T>(result: CliResult): T {
  return JSON.parse(ok(result)) as T;
}

function outputText(result: Result): string {
  const output = result.Output as { data?: unknown } | string | undefined;
  if (typeof output === 'string') return output;
  return typeof output?.data === 'string' ? output.data : '';
}

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe('levity ao / levity aos against a devnet', () => {
  let dir: string;
  let devnetDir: string;
  let devnet: RunningDevnet;
  let plain: string;
  let scripted: string;
  const cli = (...args: string[]) => runCli([...args, '--devnet', devnetDir], 90_000);
  const evalIn = async (pid: string, code: string) => ok(await cli('ao', 'eval', pid, code)).trim();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-ao-cli-'));
    devnetDir = join(dir, 'devnet');
    devnet = await startDevnet(devnetDir, [], 120_000);
  });
  after(async () => {
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('spawns a process from the built-in Lua module, creating the CLI wallet on first use', async () => {
    const first = await cli('ao', 'spawn', '--json', '--name', 'plain');
    const spawned = json<{ processId: string; module: string; authority: string; owner: string }>(first);
    assert.ok(isTxId(spawned.processId));
    assert.equal(spawned.module, devnet.manifest.ao!.modules.lua);
    assert.equal(spawned.authority, devnet.manifest.ao!.authority);
    assert.match(first.stderr, /created wallet .*cli-wallet\.json/);
    plain = spawned.processId;
    // Text mode prints the bare id, so `PID=$(levity ao spawn)` works.
    assert.ok(isTxId(ok(await cli('ao', 'spawn')).trim()));
  });

  it('eval runs Lua as the owner: values, prints, --file, and errors on stderr with exit 1', async () => {
    assert.equal(await evalIn(plain, 'return 6 * 7'), '42');
    assert.equal(await evalIn(plain, 'Name'), 'plain');
    const file = join(dir, 'snippet.lua');
    await writeFile(file, 'Greeting = "hello"\nprint(Greeting .. " world")\n');
    assert.equal(ok(await cli('ao', 'eval', plain, '--file', file)).trim(), 'hello world');
    const failed = await cli('ao', 'eval', plain, 'error("kaput")');
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /kaput/);
    assert.doesNotMatch(failed.stderr, /\x1b\[/, 'no colour codes in piped output');
  });

  it('spawn --lua boots handlers; send --wait, result, results and dryrun show what they did', async () => {
    const file = join(dir, 'handlers.lua');
    await writeFile(file, HANDLERS);
    scripted = ok(await cli('ao', 'spawn', '--lua', file, '--name', 'scripted')).trim();
    assert.ok(isTxId(scripted));

    const sent = ok(await cli('ao', 'send', scripted, '--action', 'Count', '--wait')).split('\n');
    assert.ok(isTxId(sent[0]!), `message id first: ${sent[0]}`);
    assert.equal(sent[1], 'count 1');
    const messageId = sent[0]!;

    assert.equal(ok(await cli('ao', 'result', scripted, messageId)).trim(), 'count 1');
    const asJson = json<Result>(await cli('ao', 'result', scripted, messageId, '--json'));
    assert.equal(outputText(asJson), 'count 1');

    const ping = json<{ messageId: string; result: Result }>(await cli('ao', 'send', scripted, '--action', 'Ping', '--data', 'hi', '--wait', '--json'));
    assert.ok(isTxId(ping.messageId));
    const pong = ping.result.Messages[0]!;
    assert.equal(pong.Target, scripted);
    assert.equal(pong.Data, 'pong:hi');
    assert.ok(pong.Tags.some((tag) => tag.name === 'Action' && tag.value === 'Pong'));
    const pingText = ok(await cli('ao', 'send', scripted, '--action', 'Ping', '--data', 'again', '--wait'));
    assert.match(pingText, new RegExp(`→  ${scripted}  Action=Pong  Data="pong:again"`));

    const page = json<{ edges: { cursor: string; node: Result }[] }>(await cli('ao', 'results', scripted, '--json', '--limit', '100'));
    assert.ok(page.edges.some((edge) => outputText(edge.node) === 'count 1'));
    const latest = ok(await cli('ao', 'results', scripted, '--sort', 'DESC', '--limit', '1'));
    assert.match(latest, /^# 1 {2}cursor /);

    // A dry run sees the state but keeps nothing: the count stays at 1 however often it runs.
    assert.equal(ok(await cli('ao', 'dryrun', scripted, '--action', 'Count')).trim(), 'count 2');
    assert.equal(ok(await cli('ao', 'dryrun', scripted, '--action', 'Count', '--tag', 'Extra=1')).trim(), 'count 2');
    assert.equal(await evalIn(scripted, 'return Count'), '1');
    assert.equal(await evalIn(scripted, 'return Booted'), 'yes');
  });

  it('publish-module publishes a module that spawn --module then runs', async () => {
    const lua = devnet.manifest.ao!.modules.lua!;
    const response = await fetch(`${devnet.manifest.ao!.gateway}/raw/${lua}`);
    assert.equal(response.status, 200);
    const file = join(dir, 'runtime.lua');
    await writeFile(file, Buffer.from(await response.arrayBuffer()));
    const published = json<{ moduleId: string }>(await cli('ao', 'publish-module', file, '--memory-limit', '512-mb', '--json'));
    assert.ok(isTxId(published.moduleId));
    assert.notEqual(published.moduleId, lua, 'our signature, our id');
    const pid = ok(await cli('ao', 'spawn', '--module', published.moduleId)).trim();
    assert.equal(await evalIn(pid, 'return ao.env.Module.Id'), published.moduleId);
    assert.equal(await evalIn(pid, 'return 1 + 1'), '2');
  });

  it('spawn --cron with monitor ticks the process; unmonitor stops asking', async () => {
    const file = join(dir, 'handlers.lua');
    const pid = ok(await cli('ao', 'spawn', '--lua', file, '--cron', '1-second', '--cron-action', 'Tick')).trim();
    assert.match(ok(await cli('ao', 'monitor', pid)), /^monitoring /);
    await eventually(
      async () => {
        const ticks = Number(await evalIn(pid, 'return Ticks or 0'));
        return ticks >= 2 ? ticks : undefined;
      },
      30_000,
      'two cron ticks',
    );
    assert.deepEqual(json<{ monitoring: boolean }>(await cli('ao', 'unmonitor', pid, '--json')).monitoring, false);
  });

  it('aos evaluates piped lines in order, joins \\-continued lines, stops at .exit, and exits', async () => {
    const input = ['x = 5', 'return x * 2', 'local a = 1 \\', 'return a + x', 'print("printed " .. x)', '.exit', 'return "never"', ''].join('\n');
    const started = Date.now();
    const result = await runCli(['aos', plain, '--devnet', devnetDir], 90_000, input);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split('\n'), ['10', '6', 'printed 5']);
    assert.ok(Date.now() - started < 30_000, 'no timer kept it alive');

    const failed = await runCli(['aos', plain, '--devnet', devnetDir], 90_000, 'error("broken")\nreturn 3\n');
    assert.equal(failed.code, 1, 'a piped script that failed exits 1');
    assert.match(failed.stderr, /broken/);
    assert.equal(failed.stdout.trim(), '3');
  });

  it('aos shows what it did not cause itself: a message sent from elsewhere', async () => {
    const child = spawn(process.execPath, [CLI, 'aos', scripted, '--devnet', devnetDir], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      child.stdin.write('return "ready"\n');
      await eventually(async () => (stdout.includes('ready') ? true : undefined), 30_000, 'the first evaluation');
      ok(await cli('ao', 'send', scripted, '--action', 'Hello', '--data', 'from elsewhere'));
      await eventually(async () => (/New Message From.*Hello/.test(stdout) ? true : undefined), 30_000, 'the live feed').catch((error: unknown) => {
        throw new Error(`${String(error)}\nstdout: ${stdout}\nstderr: ${stderr}`);
      });
      assert.equal(stdout.split('\n').filter((line) => line === 'ready').length, 1, 'its own evaluation is not repeated by the feed');
      child.stdin.end();
      assert.equal(await exited, 0, stderr);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('ids that start with "-" (1 in 64) are ids, not options, even "-h..."', async () => {
    const pid = `-h${'A'.repeat(41)}`;
    const message = `-${'B'.repeat(41)}A`;
    const result = await cli('ao', 'result', pid, message);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /not scheduled for process -hA+/);
    const sent = await cli('ao', 'send', '--action', 'X', pid);
    assert.equal(sent.code, 1, sent.stderr);
    assert.match(sent.stderr, /not known/);
  });

  it('bad usage exits 2 with one clear line, before touching the network', async () => {
    const cases: [string[], RegExp][] = [
      [['ao', 'send', 'not-a-pid', '--action', 'X'], /PID must be a 43-character/],
      [['ao', 'send', plain], /--action/],
      [['ao', 'send', plain, '--action', 'X', '--tag', 'novalue'], /--tag must be NAME=VALUE/],
      [['ao', 'spawn', '--tag', '=x'], /--tag must be NAME=VALUE/],
      [['ao', 'spawn', '--cron-action', 'Tick'], /--cron-action needs --cron/],
      [['ao', 'spawn', '--cron', 'often'], /cron interval/i],
      [['ao', 'spawn', '--lua', join(dir, 'missing.lua')], /not a readable file/],
      [['ao', 'eval', plain], /as CODE or with --file FILE$/m],
      [['ao', 'results', plain, '--limit', '0'], /--limit/],
      [['ao', 'results', plain, '--sort', 'SIDEWAYS'], /--sort/],
      [['ao', 'result', plain, 'short'], /MESSAGE must be/],
      [['aos', 'nope'], /PID must be/],
    ];
    for (const [args, message] of cases) {
      const result = await cli(...args);
      assert.equal(result.code, 2, `${args.join(' ')}: exit ${result.code} ${result.stderr}`);
      assert.match(result.stderr, message, args.join(' '));
      assert.equal(result.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${result.stderr}`);
    }
    const noDevnet = await runCli(['ao', 'results', plain, '--devnet', join(dir, 'nowhere')]);
    assert.equal(noDevnet.code, 1);
    assert.match(noDevnet.stderr, /no devnet manifest/);
  });
});
