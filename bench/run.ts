/**
 * `npm run bench [-- FILTER...] [--json-out FILE]`: runs each bench/*.bench.ts whose name
 * contains a filter, one at a time in a fresh process (so one bench's heap and JIT state never
 * colour the next, and timings don't compete), passes its output through, and ends with a
 * markdown table of every row reported. Exits non-zero if any bench failed.
 */
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { parseBenchRow } from './report.ts';
import type { BenchRow } from './report.ts';

export type BenchResult = { file: string; rows: BenchRow[]; ok: boolean; exit: string };

export function findBenches(dir: string, filters: readonly string[]): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.bench.ts'))
    .filter((name) => filters.length === 0 || filters.some((filter) => name.includes(filter)))
    .sort()
    .map((name) => join(dir, name));
}

/** Runs one bench file with this Node, echoing its stdout and collecting its rows. */
export async function runBench(file: string): Promise<BenchResult> {
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<string>((resolve) => {
    child.once('error', (error) => resolve(error.message));
    child.once('close', (code, signal) => resolve(signal ? `signal ${signal}` : `exit ${code}`));
  });
  const rows: BenchRow[] = [];
  for await (const line of createInterface({ input: child.stdout, crlfDelay: Infinity })) {
    process.stdout.write(`${line}\n`);
    const row = parseBenchRow(line);
    if (row) rows.push(row);
  }
  const exit = await exited;
  return { file, rows, ok: exit === 'exit 0', exit };
}

export function markdownTable(rows: readonly BenchRow[]): string {
  const cells = (values: string[]) => `| ${values.map((v) => v.replaceAll('|', '\\|')).join(' | ')} |`;
  return [
    cells(['bench', 'metric', 'value', 'unit', 'target', 'note']),
    '| --- | --- | ---: | --- | --- | --- |',
    ...rows.map((r) => cells([r.bench, r.name, formatValue(r.value), r.unit, r.target ?? '', r.note ?? ''])),
  ].join('\n');
}

function formatValue(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toPrecision(4);
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: { 'json-out': { type: 'string' } },
    allowPositionals: true,
  });
  const files = findBenches(import.meta.dirname, positionals);
  if (files.length === 0) {
    process.stderr.write(`no bench/*.bench.ts matches ${positionals.join(', ')}\n`);
    return 1;
  }
  const results: BenchResult[] = [];
  for (const file of files) {
    process.stderr.write(`\n▶ bench/${basename(file)}\n`);
    results.push(await runBench(file));
  }
  const rows = results.flatMap((result) => result.rows);
  process.stdout.write(`\n${markdownTable(rows)}\n`);
  if (values['json-out']) writeFileSync(values['json-out'], `${JSON.stringify(rows, null, 2)}\n`);
  const failed = results.filter((result) => !result.ok);
  for (const result of failed) process.stderr.write(`✗ bench/${basename(result.file)} failed (${result.exit})\n`);
  return failed.length === 0 ? 0 : 1;
}

if (import.meta.main) process.exitCode = await main();
