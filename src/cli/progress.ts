/**
 * A one-line progress bar on stderr. It draws only when stderr is a terminal, so piped or
 * captured output (CI logs, `--json` consumers, tests) never sees carriage-return noise.
 */
export type ProgressBar = {
  /** `bytes` false for counts (nodes, steps): no rate is shown then. */
  update(label: string, done: number, total: number, bytes?: boolean): void;
  /** Clears the line, so what the command prints next starts clean. */
  finish(): void;
};

const WIDTH = 28;
const REDRAW_MS = 100;

export function progressBar(stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  if (!stream.isTTY) return { update: () => undefined, finish: () => undefined };
  let last = 0;
  let drawn = false;
  let phaseStarted = performance.now();
  let phase = '';
  return {
    update(label, done, total, bytes = true) {
      const now = performance.now();
      if (label !== phase) {
        phase = label;
        phaseStarted = now;
      } else if (now - last < REDRAW_MS && done < total) {
        return; // redrawing on every segment would cost more than the upload itself
      }
      last = now;
      const ratio = total > 0 ? Math.min(1, done / total) : 1;
      const filled = Math.round(ratio * WIDTH);
      const seconds = (now - phaseStarted) / 1000;
      const rate = bytes && seconds > 0 ? `  ${(done / 1e6 / seconds).toFixed(1)} MB/s` : '';
      const bar = `${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}`;
      stream.write(`\r\x1b[2K${label.padEnd(9)} ${bar} ${(ratio * 100).toFixed(0).padStart(3)}%${rate}`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write('\r\x1b[2K');
      drawn = false;
    },
  };
}
