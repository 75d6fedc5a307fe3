/**
 * Compiles the Solidity sources under `contracts/` with solc-js into ABI + bytecode artifacts,
 * cached on disk by a hash of compiler, settings and sources. Loading solc-js costs ~250 ms, so a
 * cache hit never loads it.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Abi, Hex } from 'viem';
import { InvalidInputError, LevityError } from '../protocol/errors.ts';
import { PACKAGE_ROOT } from '../shared/package-root.ts';

/** Levity's own Solidity sources, and where their compiled output is cached. */
export const CONTRACTS_DIR = path.join(PACKAGE_ROOT, 'contracts');
export const SOLC_CACHE_DIR = path.join(PACKAGE_ROOT, 'node_modules', '.cache', 'levity', 'solc');

export type ContractArtifact = {
  name: string;
  sourceName: string;
  abi: Abi;
  bytecode: Hex;
  deployedBytecode: Hex;
  /** Byte ranges of the runtime code that the constructor fills in (immutables). */
  immutableRanges: { start: number; length: number }[];
};

export type CompiledContracts = {
  sourcesHash: string;
  solcVersion: string;
  contracts: Record<string, ContractArtifact>;
};

export type CompileContractsOptions = {
  sourcesDir: string;
  cacheDir: string;
  log?: (msg: string) => void;
};

/** The slice of solc-js we use. */
export type Solc = {
  version(): string;
  compile(input: string, callbacks?: { import: (p: string) => { contents: string } | { error: string } }): string;
};

export type CompileContractsDeps = {
  loadSolc: () => Promise<Solc>;
};

const defaultDeps: CompileContractsDeps = {
  loadSolc: async () => (await import('solc')).default as Solc,
};

/** Bump when the cached file's shape changes, so old caches are not read. */
const CACHE_FORMAT = 2;

const SETTINGS = {
  evmVersion: 'prague',
  optimizer: { enabled: true, runs: 200 },
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'evm.deployedBytecode.immutableReferences'] } },
} as const;

type SolcError = { severity: 'error' | 'warning' | 'info'; formattedMessage?: string; message: string };
type SolcOutput = {
  errors?: SolcError[];
  contracts?: Record<string, Record<string, { abi: Abi; evm: { bytecode: { object: string }; deployedBytecode: { object: string; immutableReferences?: Record<string, { start: number; length: number }[]> } } }>>;
};

export async function compileContracts(
  options: CompileContractsOptions,
  deps: CompileContractsDeps = defaultDeps,
): Promise<CompiledContracts> {
  const log = options.log ?? (() => {});
  const sources = await readSources(options.sourcesDir);
  // The npm package version is the compiler version, and reading it does not load solc.
  const solcPackage = createRequire(import.meta.url)('solc/package.json') as { version: string };
  const sourcesHash = createHash('sha256')
    .update(JSON.stringify({ format: CACHE_FORMAT, solc: solcPackage.version, settings: SETTINGS, sources }))
    .digest('hex');
  const cacheFile = path.join(options.cacheDir, `solc-${sourcesHash}.json`);

  const cached = await readCache(cacheFile, sourcesHash, log);
  if (cached) return cached;

  const solc = await deps.loadSolc();
  const input = { language: 'Solidity', sources: Object.fromEntries(sources.map(([name, content]) => [name, { content }])), settings: SETTINGS };
  const output = JSON.parse(
    solc.compile(JSON.stringify(input), {
      import: (p) => ({ error: `${p} not found: only files under ${options.sourcesDir} can be imported` }),
    }),
  ) as SolcOutput;

  const problems = output.errors ?? [];
  const errors = problems.filter((e) => e.severity === 'error');
  if (errors.length > 0) {
    throw new LevityError('CHAIN_COMPILE_FAILED', `Solidity compilation failed with ${errors.length} error(s)`, {
      details: errors.map((e) => e.formattedMessage ?? e.message).join('\n'),
      meta: { sourcesDir: options.sourcesDir, errorCount: errors.length },
    });
  }
  for (const warning of problems) log(warning.formattedMessage ?? warning.message);

  const result: CompiledContracts = { sourcesHash, solcVersion: solc.version(), contracts: collectArtifacts(output) };
  await writeCache(options.cacheDir, cacheFile, result);
  return result;
}

/** Sorted [relative posix path, content] pairs of every `*.sol` file, at any depth. */
async function readSources(sourcesDir: string): Promise<Array<[string, string]>> {
  const entries = await readdir(sourcesDir, { recursive: true });
  const names = entries.filter((e) => e.endsWith('.sol')).map((e) => e.split(path.sep).join('/')).sort();
  if (names.length === 0) {
    throw new InvalidInputError('CHAIN_NO_SOURCES', 'No Solidity sources to compile', { meta: { sourcesDir } });
  }
  return Promise.all(names.map(async (name): Promise<[string, string]> => [name, await readFile(path.join(sourcesDir, name), 'utf8')]));
}

function collectArtifacts(output: SolcOutput): Record<string, ContractArtifact> {
  const contracts: Record<string, ContractArtifact> = {};
  for (const [sourceName, byName] of Object.entries(output.contracts ?? {})) {
    for (const [name, compiled] of Object.entries(byName)) {
      const bytecode = compiled.evm.bytecode.object;
      if (bytecode === '') continue; // interfaces and abstract contracts
      const existing = contracts[name];
      if (existing) {
        throw new LevityError('CHAIN_COMPILE_FAILED', `Two contracts are named ${name}`, {
          details: `${existing.sourceName} and ${sourceName} both define ${name}; artifacts are keyed by name`,
          meta: { name, sources: [existing.sourceName, sourceName] },
        });
      }
      if (bytecode.includes('__$')) {
        throw new LevityError('CHAIN_COMPILE_FAILED', `${name} needs library linking, which is not supported`, {
          meta: { name, sourceName },
        });
      }
      contracts[name] = {
        name,
        sourceName,
        abi: compiled.abi,
        bytecode: `0x${bytecode}`,
        deployedBytecode: `0x${compiled.evm.deployedBytecode.object}`,
        immutableRanges: Object.values(compiled.evm.deployedBytecode.immutableReferences ?? {}).flat(),
      };
    }
  }
  return contracts;
}

async function readCache(file: string, sourcesHash: string, log: (msg: string) => void): Promise<CompiledContracts | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as Partial<CompiledContracts>;
    if (value.sourcesHash === sourcesHash && typeof value.solcVersion === 'string' && isRecord(value.contracts)) {
      return value as CompiledContracts;
    }
  } catch {
    // fall through: a torn or hand-edited file is rebuilt
  }
  log(`ignoring unreadable contracts cache ${file}; recompiling`);
  return undefined;
}

async function writeCache(cacheDir: string, file: string, result: CompiledContracts): Promise<void> {
  await mkdir(cacheDir, { recursive: true });
  // Rename is atomic, so a concurrent reader sees either no file or a whole one.
  const tmp = `${file}.${randomUUID()}.tmp`;
  try {
    await writeFile(tmp, JSON.stringify(result));
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
