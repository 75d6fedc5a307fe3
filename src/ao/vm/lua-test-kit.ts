/** Helpers shared by the Lua process tests: ids, env, message builders and output readers. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AoEnv, AoMessage, EvalResult, OutboxMessage, Tag } from '../../protocol/ao/types.ts';
import { createLuaProcess } from './lua-process.ts';
import type { LuaProcess, LuaProcessOptions } from './lua-process.ts';
import { luaRuntimeSource } from './lua-runtime-source.ts';

const id = (prefix: string, fill: string) => prefix.padEnd(43, fill);

export const PROCESS_ID = id('PROCESS', 'p');
export const OWNER = id('OWNER', 'o');
export const AUTHORITY = id('MU', 'm');
export const SECOND_AUTHORITY = id('MU2', 'n');
export const MODULE_ID = id('MODULE', 'd');
export const STRANGER = id('STRANGER', 's');
export const OTHER_PROCESS = id('OTHERPROC', 'q');

export const DEFAULT_OPTIONS: LuaProcessOptions = { memoryLimitBytes: 64 * 1024 * 1024, instructionLimit: 5_000_000 };

export const TOKEN_SOURCE = readFileSync(join(import.meta.dirname, 'fixtures', 'token.lua'), 'utf8');

export type TagInput = Record<string, string> | Tag[];

export type MessageInput = {
  id?: string;
  from?: string;
  owner?: string;
  target?: string;
  tags?: TagInput;
  data?: string;
  timestamp?: number;
  blockHeight?: number;
};

export function toTags(tags: TagInput | undefined): Tag[] {
  if (!tags) return [];
  if (Array.isArray(tags)) return tags;
  return Object.entries(tags).map(([name, value]) => ({ name, value }));
}

export function processEnv(extraTags: Tag[] = []): AoEnv {
  return {
    Process: {
      Id: PROCESS_ID,
      Owner: OWNER,
      Tags: [
        { name: 'Data-Protocol', value: 'ao' },
        { name: 'Type', value: 'Process' },
        { name: 'Module', value: MODULE_ID },
        { name: 'Authority', value: AUTHORITY },
        ...extraTags,
      ],
    },
    Module: { Id: MODULE_ID, Owner: OWNER, Tags: [{ name: 'Module-Format', value: 'lua' }] },
  };
}

export type Harness = {
  process: LuaProcess;
  env: AoEnv;
  boot: EvalResult;
  /** Evaluates a message; from/owner default to the process owner. */
  send(input: MessageInput): EvalResult;
  /** An Eval from the owner. */
  eval(code: string): EvalResult;
  /** Evaluates `return <expression>` and gives the printed value without colours. */
  value(expression: string): string;
  message(input: MessageInput): AoMessage;
};

/** A booted process: the first message is the process itself (Type=Process). */
export async function bootProcess(
  setup: { bootData?: string; processTags?: Tag[]; options?: Partial<LuaProcessOptions>; source?: string } = {},
): Promise<Harness> {
  const process = await createLuaProcess(setup.source ?? luaRuntimeSource(), { ...DEFAULT_OPTIONS, ...setup.options });
  const env = processEnv(setup.processTags);
  let counter = 0;
  let clock = 1_700_000_000_000;

  function message(input: MessageInput): AoMessage {
    counter += 1;
    clock += 1000;
    const owner = input.owner ?? input.from ?? OWNER;
    return {
      Id: input.id ?? id(`MSG${counter}x`, 'x'),
      Owner: owner,
      From: input.from ?? owner,
      Target: input.target ?? PROCESS_ID,
      Data: input.data ?? '',
      Tags: toTags(input.tags),
      Timestamp: input.timestamp ?? clock,
      'Block-Height': input.blockHeight ?? 1000 + counter,
      Cron: false,
    };
  }

  const bootTags: Tag[] = [...env.Process.Tags];
  if (setup.bootData !== undefined) bootTags.push({ name: 'On-Boot', value: 'Data' });
  const boot = process.evaluate(message({ id: PROCESS_ID, tags: bootTags, data: setup.bootData ?? '' }), env);

  const harness: Harness = {
    process,
    env,
    boot,
    message,
    send: (input) => process.evaluate(message(input), env),
    eval: (code) => process.evaluate(message({ tags: { Action: 'Eval' }, data: code }), env),
    value(expression) {
      const result = harness.eval(`return ${expression}`);
      if (result.Error) throw new Error(`Eval failed: ${result.Error}`);
      return plain(outputData(result));
    },
  };
  return harness;
}

export function plain(text: string): string {
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}

export function outputData(result: EvalResult): string {
  const output = result.Output as { data?: unknown } | string | undefined;
  if (typeof output === 'string') return output;
  return typeof output?.data === 'string' ? output.data : '';
}

export function tagsOf(message: OutboxMessage | { Tags: Tag[] }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tag of message.Tags) if (!(tag.name in out)) out[tag.name] = tag.value;
  return out;
}

export function tagNames(message: { Tags: Tag[] }): string[] {
  return message.Tags.map((tag) => tag.name);
}
