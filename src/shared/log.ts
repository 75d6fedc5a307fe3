/**
 * One logger per process; roles take `log.child({ role: 'chain' })` and log fields, not strings.
 * JSON lines for machines, pino-pretty for people at a terminal.
 */
import { pino } from 'pino';
import pretty from 'pino-pretty';
import { InvalidInputError } from '../protocol/errors.ts';

export type Logger = pino.Logger;

export type LoggerOptions = {
  /** A pino level name or 'silent'. */
  level: string;
  /** Human-readable lines; unset means "if the destination is a TTY". */
  pretty?: boolean;
  name?: string;
  /** Defaults to stdout. */
  destination?: NodeJS.WritableStream;
};

export function createLogger(options: LoggerOptions): Logger {
  const { level, name, destination } = options;
  if (level !== 'silent' && !(level in pino.levels.values)) {
    throw new InvalidInputError('LOG_INVALID_LEVEL', `log: unknown level ${level}`, {
      meta: { level, levels: Object.keys(pino.levels.values) },
    });
  }
  const isTTY = ((destination ?? process.stdout) as { isTTY?: boolean }).isTTY === true;
  const base = { level, ...(name === undefined ? {} : { name }) };
  if (!(options.pretty ?? isTTY)) {
    return destination ? pino(base, destination) : pino(base);
  }
  // A synchronous stream in this thread, not a worker transport: lines are not lost when the
  // process exits right after logging, and no extra thread starts per logger.
  const stream = pretty({
    destination: destination ?? 1,
    sync: true,
    colorize: isTTY,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
  });
  return pino(base, stream);
}
