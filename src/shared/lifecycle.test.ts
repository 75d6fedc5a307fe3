import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startableGroup } from './lifecycle.ts';
import type { Startable } from './lifecycle.ts';

type PartOptions = { failStart?: Error; failStop?: Error };

/** A part that records its start and stop calls into a shared log. */
function part(name: string, log: string[], options: PartOptions = {}): Startable {
  return {
    async start() {
      await Promise.resolve();
      log.push(`start ${name}`);
      if (options.failStart) throw options.failStart;
    },
    async stop() {
      await Promise.resolve();
      log.push(`stop ${name}`);
      if (options.failStop) throw options.failStop;
    },
  };
}

describe('startableGroup', () => {
  it('starts parts in order and stops them in reverse', async () => {
    const log: string[] = [];
    const group = startableGroup([part('a', log), part('b', log)]);
    group.add(part('c', log));
    await group.start();
    assert.deepEqual(log, ['start a', 'start b', 'start c']);
    await group.stop();
    assert.deepEqual(log.slice(3), ['stop c', 'stop b', 'stop a']);
  });

  it('waits for each start before the next', async () => {
    const log: string[] = [];
    const slow: Startable = {
      start: () => new Promise((resolve) => setTimeout(() => { log.push('slow started'); resolve(); }, 20)),
      stop: async () => undefined,
    };
    const group = startableGroup([slow, part('b', log)]);
    await group.start();
    assert.deepEqual(log, ['slow started', 'start b']);
  });

  it('stops the started parts when one fails to start, then rethrows', async () => {
    const log: string[] = [];
    const boom = new Error('boom');
    const group = startableGroup([part('a', log), part('b', log), part('c', log, { failStart: boom }), part('d', log)]);
    await assert.rejects(group.start(), (error) => error === boom);
    assert.deepEqual(log, ['start a', 'start b', 'start c', 'stop b', 'stop a']);
    await group.stop();
    assert.equal(log.length, 5, 'nothing is left to stop after a failed start');
  });

  it('rethrows the start error even when the rollback fails', async () => {
    const log: string[] = [];
    const boom = new Error('boom');
    const group = startableGroup([part('a', log, { failStop: new Error('stuck') }), part('b', log, { failStart: boom })]);
    await assert.rejects(group.start(), (error) => error === boom);
    assert.deepEqual(log, ['start a', 'start b', 'stop a']);
  });

  it('stops every part and rethrows a single stop error as is', async () => {
    const log: string[] = [];
    const stuck = new Error('stuck');
    const group = startableGroup([part('a', log), part('b', log, { failStop: stuck }), part('c', log)]);
    await group.start();
    await assert.rejects(group.stop(), (error) => error === stuck);
    assert.deepEqual(log.slice(3), ['stop c', 'stop b', 'stop a']);
  });

  it('aggregates several stop errors', async () => {
    const log: string[] = [];
    const first = new Error('first');
    const second = new Error('second');
    const group = startableGroup([part('a', log, { failStop: second }), part('b', log), part('c', log, { failStop: first })]);
    await group.start();
    await assert.rejects(group.stop(), (error) => {
      assert.ok(error instanceof AggregateError);
      assert.deepEqual(error.errors, [first, second]);
      return true;
    });
    assert.deepEqual(log.slice(3), ['stop c', 'stop b', 'stop a']);
  });

  it('treats a second stop as a no-op', async () => {
    const log: string[] = [];
    const group = startableGroup([part('a', log)]);
    await group.start();
    await group.stop();
    await group.stop();
    assert.deepEqual(log, ['start a', 'stop a']);
  });

  it('stop before start does nothing', async () => {
    const log: string[] = [];
    await startableGroup([part('a', log)]).stop();
    assert.deepEqual(log, []);
  });
});
