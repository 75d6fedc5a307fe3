/**
 * Layered configuration: defaults < levity.config.json < LEVITY_* env < flags, validated by one
 * zod schema. A subsystem adds its section to `configSchema` and `defaultConfig`; env names,
 * coercion and error attribution follow from the schema, so nothing else needs to change.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { z } from 'zod';
import { InvalidInputError } from '../protocol/errors.ts';

const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export const configSchema = z.strictObject({
  dataDir: z.string().min(1),
  /** 0 puts every role on an OS-assigned port (tests running in parallel). */
  portBase: z.int().min(0).max(65535),
  host: z.string().min(1),
  log: z.strictObject({ level: z.enum(logLevels) }),
  chain: z.strictObject({
    /** Set to join an existing chain instead of embedding one. */
    rpc: z.url({ protocol: /^(https?|wss?)$/ }).optional(),
    key: z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'expected 0x followed by 64 hex digits').optional(),
    chainId: z.int().positive(),
    hardfork: z.enum(['prague', 'osaka']),
    mnemonic: z.string().min(1),
    accounts: z.int().min(1).max(100),
    balanceEth: z.int().positive(),
  }),
  storage: z.strictObject({
    /** Storage nodes `levity up` runs; each keeps a full copy (unsharded). */
    nodes: z.int().min(0).max(9),
    /** How often a node polls the chain for Flow submissions. */
    syncPollMs: z.int().min(10).max(60_000),
  }),
  ao: z.strictObject({
    /** Units on other hosts, for a node that does not run them itself. */
    gateway: z.url().optional(),
    /** The storage indexer a gateway keeps its bytes through, when this node runs none. */
    indexer: z.url().optional(),
    su: z.url().optional(),
    cu: z.url().optional(),
    /** How often the MU asks the CU for cron results of monitored processes. */
    cronPollMs: z.int().min(50).max(600_000),
    /** Live Lua VMs a CU keeps; past this the least recently used one is checkpointed and freed. */
    maxLiveProcesses: z.int().min(1).max(10_000),
    /** How long the CU's /result waits for an evaluation before answering with an error. */
    resultTimeoutMs: z.int().min(100).max(600_000),
  }),
  da: z.strictObject({
    /** DA nodes `levity up` runs, each with its own BLS key, stake and data dir. */
    nodes: z.int().min(0).max(32),
    /** The aggregator to submit through, when this node runs none. */
    aggregator: z.url().optional(),
    /** Largest payload the aggregator accepts, in bytes. */
    maxPayloadBytes: z.int().min(1).max(256 * 1024 * 1024),
    /** Encoder worker threads; 0 means one per core. */
    encoderThreads: z.int().min(0).max(64),
    /** What each devnet DA node stakes when it registers, in ether. */
    stakeEth: z.int().positive(),
  }),
  serving: z.strictObject({
    /** Providers `levity up` runs (0 or 1; more run as `levity node --role provider`). */
    providers: z.int().min(0).max(1),
    /** A GGUF model to serve; without it and without `upstream` the devnet generates a tiny random one. */
    model: z.string().min(1).optional(),
    /** An OpenAI-compatible upstream to proxy instead of running a model. */
    upstream: z.url().optional(),
    /** Prices in wei per token. */
    inputPricePerToken: z.string().regex(/^\d+$/, 'expected a whole number of wei'),
    outputPricePerToken: z.string().regex(/^\d+$/, 'expected a whole number of wei'),
    /** How often the provider settles its latest receipts on chain (and always at shutdown). */
    settleIntervalMs: z.int().min(100).max(86_400_000),
    /** max_tokens when a request names none. */
    defaultMaxTokens: z.int().min(1).max(32_768),
  }),
});

export type LevityConfig = z.infer<typeof configSchema>;

export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

export const defaultConfig: LevityConfig = {
  dataDir: '.levity/devnet',
  portBase: 8545,
  host: '127.0.0.1',
  log: { level: 'info' },
  chain: {
    chainId: 31337,
    hardfork: 'prague',
    mnemonic: 'test test test test test test test test test test test junk',
    accounts: 10,
    balanceEth: 10000,
  },
  storage: { nodes: 2, syncPollMs: 100 },
  ao: { cronPollMs: 1000, maxLiveProcesses: 64, resultTimeoutMs: 60_000 },
  da: { nodes: 4, maxPayloadBytes: 16 * 1024 * 1024, encoderThreads: 0, stakeEth: 32 },
  serving: {
    providers: 1,
    inputPricePerToken: '1000000000',
    outputPricePerToken: '2000000000',
    settleIntervalMs: 30_000,
    defaultMaxTokens: 128,
  },
};

export type LoadConfigOptions = {
  cwd: string;
  env?: Record<string, string | undefined>; // process.env when left out
  flags?: DeepPartial<LevityConfig>;
  /** An explicit file must exist; without it `<cwd>/levity.config.json` is read if present. */
  configFile?: string;
};

export type LoadConfigResult = { config: LevityConfig; warnings: string[] };

const ENV_PREFIX = 'LEVITY_';
const DEFAULT_FILE = 'levity.config.json';

export function loadConfig(options: LoadConfigOptions): LoadConfigResult {
  const { cwd, env = process.env, flags = {} } = options;
  const warnings: string[] = [];
  const merged: Plain = {};
  // Which layer last set each dotted leaf path, so an error can say where a bad value came from.
  const origins = new Map<string, string>();

  mergeLayer(merged, defaultConfig, 'defaults', origins);
  const file = readConfigFile(cwd, options.configFile);
  if (file) mergeLayer(merged, file.values, file.label, origins);

  const vars = new Map(configEnvVars().map((v) => [v.name, v]));
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX)) continue;
    const known = vars.get(name);
    if (!known) {
      warnings.push(`unknown environment variable ${name} ignored (not a Levity config key)`);
      continue;
    }
    // An empty variable reads as unset, so `LEVITY_CHAIN_RPC= levity up` falls back cleanly.
    if (raw === undefined || raw.trim() === '') continue;
    mergeLayer(merged, nest(known.path.split('.'), coerce(raw, known.kind)), name, origins);
  }
  mergeLayer(merged, flags as Plain, 'flags', origins);

  const parsed = configSchema.safeParse(merged, { error: conciseMessage });
  if (!parsed.success) throw configError(parsed.error.issues, origins);
  const config = parsed.data;
  return { config: { ...config, dataDir: resolve(cwd, config.dataDir) }, warnings };
}

export type LeafKind = 'string' | 'number' | 'boolean' | 'json';
export type ConfigEnvVar = { name: string; path: string; kind: LeafKind };

/** Every LEVITY_* variable the schema accepts, with the config path it sets. */
export function configEnvVars(): ConfigEnvVar[] {
  const vars: ConfigEnvVar[] = [];
  const seen = new Map<string, string>();
  const walk = (schema: z.ZodType, path: string[]): void => {
    const inner = unwrap(schema);
    if (inner instanceof z.ZodObject) {
      for (const [key, child] of Object.entries(inner.shape as Record<string, z.ZodType>)) walk(child, [...path, key]);
      return;
    }
    const name = ENV_PREFIX + path.map(screamingSnake).join('_');
    const clash = seen.get(name);
    // A schema author's mistake (`a.bC` vs `aB.c`): fail loudly rather than shadow a key.
    if (clash) throw new Error(`config keys ${clash} and ${path.join('.')} both map to ${name}`);
    seen.set(name, path.join('.'));
    vars.push({ name, path: path.join('.'), kind: leafKind(inner) });
  };
  walk(configSchema, []);
  return vars;
}

export function configEnvNames(): string[] {
  return configEnvVars().map((v) => v.name);
}

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep-merges `layer` into `target`; undefined never overrides, arrays replace whole. */
function mergeLayer(target: Plain, layer: Plain, source: string, origins: Map<string, string>, prefix = ''): void {
  for (const [key, value] of Object.entries(layer)) {
    if (value === undefined) continue;
    const path = prefix ? `${prefix}.${key}` : key;
    if (isPlain(value)) {
      const current = Object.hasOwn(target, key) ? target[key] : undefined;
      const next = isPlain(current) ? current : {};
      define(target, key, next);
      mergeLayer(next, value, source, origins, path);
    } else {
      define(target, key, value);
      for (const known of origins.keys()) if (known.startsWith(`${path}.`)) origins.delete(known);
      origins.set(path, source);
    }
  }
}

// defineProperty keeps a JSON `"__proto__"` key an own property, so the strict schema rejects it
// as an unknown key instead of it silently replacing the prototype.
function define(target: Plain, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function nest(path: string[], value: unknown): Plain {
  return path.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value) as Plain;
}

function readConfigFile(cwd: string, configFile: string | undefined): { values: Plain; label: string } | undefined {
  const file = resolve(cwd, configFile ?? DEFAULT_FILE);
  const rel = relative(cwd, file);
  const label = rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
  if (!existsSync(file)) {
    if (configFile === undefined) return undefined;
    throw new InvalidInputError('CONFIG_INVALID', `config: file ${label} not found`, { meta: { file } });
  }
  let values: unknown;
  try {
    values = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    // V8 quotes a slice of the text in its message; drop it (and the cause), the file may hold a key.
    const details = String(cause instanceof Error ? cause.message : cause).replace(/, ".*" is not valid JSON$/s, '');
    throw new InvalidInputError('CONFIG_INVALID', `config: ${label} is not valid JSON`, { details, meta: { file } });
  }
  if (isPlain(values)) return { values, label };
  throw new InvalidInputError('CONFIG_INVALID', `config: ${label} must hold a JSON object`, { meta: { file } });
}

function unwrap(schema: z.ZodType): z.ZodType {
  const wrapped = schema instanceof z.ZodOptional || schema instanceof z.ZodDefault || schema instanceof z.ZodNullable;
  return wrapped ? unwrap(schema.unwrap() as z.ZodType) : schema;
}

function leafKind(schema: z.ZodType): LeafKind {
  if (schema instanceof z.ZodNumber) return 'number';
  if (schema instanceof z.ZodBoolean) return 'boolean';
  if (schema instanceof z.ZodArray || schema instanceof z.ZodRecord || schema instanceof z.ZodTuple) return 'json';
  return 'string';
}

function screamingSnake(segment: string): string {
  return segment.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2').toUpperCase();
}

/** Env strings become the leaf's type; anything unparseable stays a string so zod names the problem. */
function coerce(raw: string, kind: LeafKind): unknown {
  const text = raw.trim();
  if (kind === 'number') return Number.isFinite(Number(text)) ? Number(text) : raw;
  if (kind === 'boolean') return /^(true|1|yes|on)$/i.test(text) ? true : /^(false|0|no|off)$/i.test(text) ? false : raw;
  if (kind !== 'json') return raw;
  try {
    return JSON.parse(text);
  } catch {
    return raw;
  }
}

/** Short messages without zod's "Too big:" preambles; never echoes the value (it may be a key). */
function conciseMessage(issue: z.core.$ZodRawIssue): string | undefined {
  const unit = issue.origin === 'string' ? ' characters' : issue.origin === 'array' ? ' items' : '';
  const subject = unit ? `length` : 'number';
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${issue.expected}, received ${kindOf(issue.input)}`;
    case 'too_big':
      return `expected ${subject} ${issue.inclusive === false ? '<' : '≤'} ${String(issue.maximum)}${unit}`;
    case 'too_small':
      return `expected ${subject} ${issue.inclusive === false ? '>' : '≥'} ${String(issue.minimum)}${unit}`;
    case 'invalid_format':
      return issue.format === 'url' && typeof issue.note === 'string' ? `Invalid URL (${issue.note.toLowerCase()})` : undefined;
    default:
      return undefined;
  }
}

function configError(issues: readonly z.core.$ZodIssue[], origins: Map<string, string>): InvalidInputError {
  const problem = (path: string[], message: string) => ({ path: path.join('.'), source: originOf(path, origins), message });
  const problems = issues.flatMap((issue) => {
    const base = issue.path.map(String);
    if (issue.code !== 'unrecognized_keys') return [problem(base, issue.message)];
    return issue.keys.map((key) => problem([...base, key], 'unknown key'));
  });
  const lines = problems.map((p) => `config: ${p.path || '(root)'} (from ${p.source}): ${p.message}`);
  const more = lines.length > 1 ? ` (and ${lines.length - 1} more)` : '';
  return new InvalidInputError('CONFIG_INVALID', `${lines[0] ?? 'config: invalid'}${more}`, {
    details: lines.length > 1 ? lines.join('; ') : undefined,
    meta: { problems },
  });
}

function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

function originOf(path: string[], origins: Map<string, string>): string {
  for (let i = path.length; i > 0; i--) {
    const source = origins.get(path.slice(0, i).join('.'));
    if (source) return source;
  }
  // An unknown key holding an object: its leaves were recorded below it.
  const prefix = `${path.join('.')}.`;
  for (const [key, source] of origins) if (key.startsWith(prefix)) return source;
  return 'defaults';
}
