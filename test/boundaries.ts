/**
 * Enforces the import rules of ARCHITECTURE.md by reading every specifier in src/**.ts.
 * Specifiers come from TypeScript's own pre-processor, which skips comments and strings the way
 * the compiler does, so a commented-out import never counts and a quoted one never fools it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, posix, sep } from 'node:path';
import ts from 'typescript';

export const SUBSYSTEMS: readonly string[] = ['chain', 'storage', 'gateway', 'ao', 'da', 'serving', 'explorer'];
export const LAYERS: readonly string[] = ['protocol', 'shared', 'node', 'devnet', 'sdk', 'cli'];

export const Rule = {
  protocol: 'protocol',
  shared: 'shared',
  subsystem: 'subsystem',
  compositionRoot: 'composition-root',
  sdk: 'sdk',
  layout: 'layout',
} as const;
export type Rule = (typeof Rule)[keyof typeof Rule];

export type SourceFile = { path: string; source: string };
export type Violation = { file: string; specifier: string; rule: Rule; message: string };

/** Pure libraries protocol/ may use: hashing, curves, encoders, validation. */
const PROTOCOL_PACKAGES = [
  'viem',
  'hash-wasm',
  '@noble/hashes',
  '@noble/curves',
  'c-kzg',
  '@chainsafe/blst',
  '@dha-team/arbundles',
  'zod',
];
const PROTOCOL_BUILTINS = ['node:buffer', 'node:crypto'];
/** Protocol tests still need a test runner; nothing else is granted to them. */
const TEST_RUNNER_BUILTINS = ['node:test', 'node:assert', 'node:assert/strict'];

/** Tests, and the shared cases several tests run (`x.test-kit.ts`), may use the test runner. */
function isTestCode(path: string): boolean {
  return path.endsWith('.test.ts') || path.endsWith('.test-kit.ts');
}
/** Server-side packages the SDK must never pull into a user's bundle. */
const SERVER_PACKAGES = [/^hono$/, /^@hono\//, /^hardhat$/, /^@nomicfoundation\//, /^pino$/];
/** Composition roots and which other layers may import them. */
const ROOT_IMPORTERS: Readonly<Record<string, readonly string[]>> = { node: ['cli', 'devnet'], devnet: ['cli'], cli: [] };

type Target =
  | { kind: 'source'; path: string; layer: string | undefined }
  | { kind: 'builtin'; name: string }
  | { kind: 'package'; name: string };

export function checkImports(files: readonly SourceFile[]): Violation[] {
  const violations: Violation[] = [];
  for (const file of files) {
    const layer = layerOf(file.path);
    const known = layer !== undefined && (SUBSYSTEMS.includes(layer) || LAYERS.includes(layer));
    if (!known) {
      const message = `not under a known layer (src/<${[...LAYERS, ...SUBSYSTEMS].join('|')}>/)`;
      violations.push({ file: file.path, specifier: '', rule: Rule.layout, message });
      continue;
    }
    for (const specifier of importSpecifiers(file.source)) {
      const target = resolveTarget(file.path, specifier);
      for (const [rule, message] of judge(layer, isTestCode(file.path), target)) {
        violations.push({ file: file.path, specifier, rule, message });
      }
    }
  }
  return violations;
}

/** Every static, re-export, type-only, dynamic (literal) and require specifier in a file. */
export function importSpecifiers(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((ref) => ref.fileName);
}

function judge(layer: string, isTest: boolean, target: Target): Array<[Rule, string]> {
  const found: Array<[Rule, string]> = [];
  const source = target.kind === 'source' ? target : undefined;

  if (layer === 'protocol') {
    if (source && source.layer !== 'protocol') found.push([Rule.protocol, `protocol/ may not import ${source.path}`]);
    const builtins = isTest ? [...PROTOCOL_BUILTINS, ...TEST_RUNNER_BUILTINS] : PROTOCOL_BUILTINS;
    if (target.kind === 'builtin' && !builtins.includes(target.name)) {
      found.push([Rule.protocol, `protocol/ is pure: ${target.name} is not allowed (only ${PROTOCOL_BUILTINS.join(', ')})`]);
    }
    if (target.kind === 'package' && !PROTOCOL_PACKAGES.includes(target.name)) {
      found.push([Rule.protocol, `protocol/ may only use pure packages; ${target.name} is not on the allowlist`]);
    }
  }

  if (layer === 'shared' && source && source.layer !== 'shared' && source.layer !== 'protocol') {
    found.push([Rule.shared, `shared/ may import only shared/, protocol/ and packages, not ${source.path}`]);
  }

  // Tests may reach into another subsystem's internals to build fixtures; shipped code may not.
  const other = source?.layer !== undefined && source.layer !== layer && SUBSYSTEMS.includes(source.layer);
  if (SUBSYSTEMS.includes(layer) && !isTest && source && other && !isPublicEntry(source.path)) {
    const entry = `src/${source.layer}/index.ts or client.ts`;
    found.push([Rule.subsystem, `${layer}/ may reach ${source.layer}/ only through ${entry}, not ${source.path}`]);
  }

  const importers = source?.layer === undefined ? undefined : ROOT_IMPORTERS[source.layer];
  if (source?.layer && importers && source.layer !== layer && !importers.includes(layer)) {
    const allowed = importers.length ? ` (only ${importers.join(', ')} may)` : '';
    found.push([Rule.compositionRoot, `${layer}/ may not import the composition root ${source.layer}/${allowed}`]);
  }

  if (layer === 'sdk' && !isTest) {
    const client = source?.layer !== undefined && SUBSYSTEMS.includes(source.layer) && source.path.endsWith('/client.ts');
    if (source && source.layer !== 'sdk' && source.layer !== 'protocol' && !(client && isPublicEntry(source.path))) {
      found.push([Rule.sdk, `sdk/ may import only sdk/, protocol/ and subsystems' client.ts, not ${source.path}`]);
    }
    if (target.kind === 'package' && SERVER_PACKAGES.some((pattern) => pattern.test(target.name))) {
      found.push([Rule.sdk, `sdk/ must not pull in server package ${target.name}`]);
    }
  }
  return found;
}

/** `src/<layer>/index.ts` or `src/<layer>/client.ts`, not a file deeper down. */
function isPublicEntry(path: string): boolean {
  return /^src\/[^/]+\/(index|client)\.ts$/.test(path);
}

/** The top-level dir under src/ (`src/chain/x.ts` → chain); undefined outside src/ or at its root. */
function layerOf(path: string): string | undefined {
  const parts = path.split('/');
  return parts[0] === 'src' && parts.length >= 3 ? parts[1] : undefined;
}

function resolveTarget(importer: string, specifier: string): Target {
  if (specifier.startsWith('.') || specifier.startsWith('/')) {
    const path = posix.normalize(posix.join(posix.dirname(importer), specifier));
    return { kind: 'source', path, layer: layerOf(path) };
  }
  if (specifier.startsWith('node:')) return { kind: 'builtin', name: specifier };
  if (builtinModules.includes(specifier)) return { kind: 'builtin', name: `node:${specifier}` };
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
  return { kind: 'package', name };
}

/** Reads every .ts file under `<root>/src`, paths relative to root with forward slashes. */
export function readSourceFiles(root: string): SourceFile[] {
  const entries = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' });
  return entries
    .filter((entry) => entry.endsWith('.ts'))
    .sort()
    .map((entry) => {
      const path = `src/${entry.split(sep).join('/')}`;
      return { path, source: readFileSync(join(root, path), 'utf8') };
    });
}

export function formatViolation(v: Violation): string {
  return `${v.file}: ${v.specifier ? `'${v.specifier}' ` : ''}[${v.rule}] ${v.message}`;
}
