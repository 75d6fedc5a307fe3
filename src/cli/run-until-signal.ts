import type { Logger } from '../shared/log.ts';
import type { Startable } from '../shared/lifecycle.ts';

/** Longest a clean stop may take before the process exits anyway. */
const STOP_DEADLINE_MS = 4500;

/**
 * Starts a service, calls `ready`, then waits for Ctrl-C or SIGTERM and stops it. A second
 * signal, or a stop that overruns the deadline, exits at once.
 */
export async function runUntilSignal(service: Startable, log: Logger, ready: () => void): Promise<void> {
  await service.start();
  ready();
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) process.exit(130);
      stopping = true;
      log.info({ signal }, 'stopping');
      const deadline = setTimeout(() => {
        log.error('stop took too long; exiting');
        process.exit(1);
      }, STOP_DEADLINE_MS);
      deadline.unref();
      service
        .stop()
        .catch((err: unknown) => log.error({ err }, 'stop failed'))
        .finally(() => {
          clearTimeout(deadline);
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          resolve();
        });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
