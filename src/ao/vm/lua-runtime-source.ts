import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Runtime modules in load order, each with the names `require` knows it by (the first is canonical). */
const MODULES: readonly { file: string; names: readonly string[] }[] = [
  { file: 'json.lua', names: ['json', '.json'] },
  { file: 'utils.lua', names: ['.utils', 'utils'] },
  { file: 'handlers-utils.lua', names: ['.handlers-utils', 'handlers-utils'] },
  { file: 'handlers.lua', names: ['.handlers', 'handlers'] },
  { file: 'assignment.lua', names: ['.assignment', 'assignment'] },
  { file: 'ao.lua', names: ['.ao', 'ao'] },
  { file: 'stringify.lua', names: ['.stringify', 'stringify'] },
  { file: 'dump.lua', names: ['.dump', 'dump'] },
  { file: 'pretty.lua', names: ['.pretty', 'pretty'] },
  { file: 'base64.lua', names: ['.base64', 'base64'] },
  { file: 'bint.lua', names: ['.bint', 'bint'] },
  { file: 'crypto.lua', names: ['.crypto', 'crypto'] },
  { file: 'chance.lua', names: ['.chance', 'chance'] },
  { file: 'apm.lua', names: ['.apm', 'apm'] },
  { file: 'eval.lua', names: ['.eval', 'eval'] },
  { file: 'boot.lua', names: ['.boot', 'boot'] },
  { file: 'default.lua', names: ['.default', 'default'] },
  { file: 'process.lua', names: ['.process', 'process'] },
];

const LUA_DIR = join(import.meta.dirname, 'lua');

let bundled: string | undefined;

/** The text of one file of the runtime (also used by the host for its sandbox prelude). */
export function luaRuntimeFile(file: string): string {
  return readFileSync(join(LUA_DIR, file), 'utf8');
}

/**
 * The aos-compatible runtime as one Lua chunk: every module registered in `package.preload`
 * (aliases load the canonical name, so each module exists once), then the global entry
 * `handle(msgJSON, envJSON)`. Published as the devnet's built-in module; the CU runs it as-is.
 */
export function luaRuntimeSource(): string {
  if (bundled !== undefined) return bundled;
  const parts: string[] = ['-- Levity aos-compatible process runtime (bundled; see src/ao/vm/lua/).\n'];
  for (const { file, names } of MODULES) {
    const [canonical, ...aliases] = names;
    parts.push(`package.preload[${JSON.stringify(canonical)}] = function(...)\n${luaRuntimeFile(file)}\nend\n`);
    for (const alias of aliases) {
      parts.push(`package.preload[${JSON.stringify(alias)}] = function() return require(${JSON.stringify(canonical)}) end\n`);
    }
  }
  parts.push(luaRuntimeFile('entry.lua'));
  bundled = parts.join('');
  return bundled;
}
