/** Every long-lived part implements start()/stop(); shutdown flows through one path. */
export type Startable = {
  start(): Promise<void>;
  stop(): Promise<void>;
};

/**
 * Starts parts in order and stops them in reverse. If one fails to start, the ones already
 * started are stopped before the error is rethrown, so a failed boot leaves nothing running.
 */
export function startableGroup(parts: Startable[]): Startable & { add(part: Startable): void } {
  const started: Startable[] = [];
  return {
    add(part) {
      parts.push(part);
    },
    async start() {
      for (const part of parts) {
        try {
          await part.start();
        } catch (error) {
          // The boot failure is the cause worth reporting; a failed rollback must not hide it.
          await stopAll(started.splice(0).reverse()).catch(() => undefined);
          throw error;
        }
        started.push(part);
      }
    },
    async stop() {
      await stopAll(started.splice(0).reverse());
    },
  };
}

async function stopAll(parts: Startable[]): Promise<void> {
  const errors: unknown[] = [];
  for (const part of parts) {
    try {
      await part.stop();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, 'several parts failed to stop');
}
