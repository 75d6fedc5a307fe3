/**
 * The one contract between a benchmark and the harness: each measurement is one JSON line on
 * stdout. Anything else a bench prints passes through untouched.
 */

export type BenchRow = {
  /** The bench file's short name, e.g. 'hash'. */
  bench: string;
  /** What was measured, e.g. 'sha256 64 MiB'. */
  name: string;
  value: number;
  unit: string;
  /** The number we aim for, as text ('≥ 500 MB/s'), so the table shows how far off we are. */
  target?: string;
  note?: string;
};

export function report(row: BenchRow): void {
  process.stdout.write(`${JSON.stringify(row)}\n`);
}

/** The row a line carries, or undefined for ordinary output. */
export function parseBenchRow(line: string): BenchRow | undefined {
  if (!line.startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const row = value as Record<string, unknown>;
  const isRow =
    typeof row.bench === 'string' &&
    typeof row.name === 'string' &&
    typeof row.value === 'number' &&
    typeof row.unit === 'string' &&
    (row.target === undefined || typeof row.target === 'string') &&
    (row.note === undefined || typeof row.note === 'string');
  return isRow ? (row as BenchRow) : undefined;
}
