/** What makes a data item an AO module, and the limits its tags set (spec ao.md §3.4, §4.4). */
import { InvalidInputError } from '../errors.ts';
import type { Tag } from '../ans104/types.ts';

/** Levity's Lua module format: the item's data is a Lua 5.4 chunk defining `handle(msgJSON, envJSON)`. */
export const LUA_MODULE_FORMAT = 'lua-5.4-levity';
/** The AO WASM formats the reference loader knows. */
export const WASM_MODULE_FORMATS: readonly string[] = [
  'wasm32-unknown-emscripten',
  'wasm32-unknown-emscripten2',
  'wasm32-unknown-emscripten3',
  'wasm32-unknown-emscripten4',
  'wasm32-unknown-emscripten-metering',
  'wasm64-unknown-emscripten-draft_2024_02_15',
  'wasm64-unknown-emscripten-draft_2024_10_16-metering',
];

export type ModuleTagOptions = {
  format: string;
  memoryLimit?: string;
  computeLimit?: string;
  name?: string;
  extra?: readonly Tag[];
};

/** The tags aoconnect's spawn check requires, plus the optional limits. */
export function moduleTags(options: ModuleTagOptions): Tag[] {
  const tags: Tag[] = [
    { name: 'Data-Protocol', value: 'ao' },
    { name: 'Variant', value: 'ao.TN.1' },
    { name: 'Type', value: 'Module' },
    { name: 'Module-Format', value: options.format },
    { name: 'Input-Encoding', value: 'JSON-1' },
    { name: 'Output-Encoding', value: 'JSON-1' },
  ];
  if (options.memoryLimit) tags.push({ name: 'Memory-Limit', value: options.memoryLimit });
  if (options.computeLimit) tags.push({ name: 'Compute-Limit', value: options.computeLimit });
  if (options.name) tags.push({ name: 'Name', value: options.name });
  if (options.format === LUA_MODULE_FORMAT) tags.push({ name: 'Content-Type', value: 'text/x-lua' });
  else tags.push({ name: 'Content-Type', value: 'application/wasm' });
  tags.push(...(options.extra ?? []));
  return tags;
}

const UNITS: Readonly<Record<string, number>> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };

/** Parses a Memory-Limit like `1-gb`, `512-mb` or `1073741824` into bytes. */
export function parseMemoryLimit(text: string): number {
  const match = /^(\d+(?:\.\d+)?)[-\s]?([kmgt]?b)?$/i.exec(text.trim());
  if (!match) throw new InvalidInputError('AO_BAD_MEMORY_LIMIT', `cannot read Memory-Limit "${text}"`, { meta: { value: text } });
  const bytes = Number(match[1]) * UNITS[(match[2] ?? 'b').toLowerCase()]!;
  if (!Number.isFinite(bytes) || bytes <= 0) {
    throw new InvalidInputError('AO_BAD_MEMORY_LIMIT', `Memory-Limit "${text}" is not a positive size`, { meta: { value: text } });
  }
  return Math.floor(bytes);
}

/** Parses a Compute-Limit (a count, possibly in exponent form like `9e12`). */
export function parseComputeLimit(text: string): number {
  const value = Number(text.trim());
  if (!Number.isFinite(value) || value <= 0) {
    throw new InvalidInputError('AO_BAD_COMPUTE_LIMIT', `cannot read Compute-Limit "${text}"`, { meta: { value: text } });
  }
  return Math.floor(value);
}
