import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { InvalidInputError } from '../../protocol/errors.ts';
import { createLogger } from '../../shared/log.ts';
import { createCrankQueue, createCrankWorkers } from './crank-queue.ts';
import type { ClaimedJob, CrankQueue } from './crank-queue.ts';

type Payload = { n: number };
const log = createLogger({ level: 'silent' });

async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('createCrankQueue', () => {
  let dir: string;
  let path: string;
  let clock: number;
  let queue: CrankQueue<Payload>;
  const open = () => createCrankQueue<Payload>({ path, now: () => clock, retry: { baseMs: 100, maxMs: 1_000, maxAttempts: 3 } });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-crank-queue-'));
    path = join(dir, 'mu.sqlite');
    clock = 1_000_000;
    queue = open();
  });
  afterEach(async () => {
    queue.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('queues a key once, even after it ran', () => {
    assert.equal(queue.push({ key: 'a', payload: { n: 1 } }, { key: 'a', payload: { n: 2 } }), 1);
    const job = queue.claim()!;
    assert.deepEqual(job.payload, { n: 1 });
    queue.complete(job.id);
    assert.equal(queue.push({ key: 'a', payload: { n: 3 } }), 0);
    assert.equal(queue.claim(), undefined);
    assert.equal(queue.state('a')?.state, 'done');
  });

  it('hands out due jobs oldest first, and each to one claimer', () => {
    queue.push({ key: 'a', payload: { n: 1 } }, { key: 'b', payload: { n: 2 } }, { key: 'later', payload: { n: 3 }, delayMs: 500 });
    assert.equal(queue.claim()?.key, 'a');
    assert.equal(queue.claim()?.key, 'b');
    assert.equal(queue.claim(), undefined, 'the delayed job is not due yet');
    clock += 500;
    assert.equal(queue.claim()?.key, 'later');
  });

  it('retries a failed job after a doubling backoff, then gives up', () => {
    queue.push({ key: 'a', payload: { n: 1 } });
    let job = queue.claim()!;
    assert.equal(queue.fail(job.id, new Error('SU down')), 'retry');
    assert.equal(queue.nextDueAt(), clock + 100);
    assert.equal(queue.claim(), undefined);
    clock += 100;
    job = queue.claim()!;
    assert.equal(job.attempts, 2);
    assert.equal(queue.fail(job.id, new Error('SU down')), 'retry');
    assert.equal(queue.nextDueAt(), clock + 200);
    clock += 200;
    job = queue.claim()!;
    assert.equal(queue.fail(job.id, new Error('still down')), 'dead');
    assert.deepEqual(queue.state('a'), { state: 'dead', attempts: 3, progress: 0, lastError: 'still down' });
    assert.equal(queue.revive('a'), true);
    assert.equal(queue.claim()?.attempts, 1, 'a revived job starts its attempts over');
  });

  it('kills a job at once on a permanent failure', () => {
    queue.push({ key: 'a', payload: { n: 1 } });
    assert.equal(queue.fail(queue.claim()!.id, new Error('refused'), true), 'dead');
    assert.deepEqual(queue.counts(), { pending: 0, running: 0, done: 0, dead: 1 });
  });

  it('survives a restart: jobs running at the crash run again, from their last finished step', () => {
    queue.push({ key: 'a', payload: { n: 1 } }, { key: 'b', payload: { n: 2 } });
    const a = queue.claim()!;
    queue.advance(a.id, 2, [{ key: 'a-follow', payload: { n: 10 } }]);
    queue.close(); // the process dies with 'a' running
    queue = open();
    assert.deepEqual(queue.counts(), { pending: 3, running: 0, done: 0, dead: 0 });
    const again = queue.claim()!;
    assert.equal(again.key, 'a');
    assert.equal(again.progress, 2);
    assert.equal(again.attempts, 2);
    assert.equal(queue.claim()?.key, 'b');
    assert.equal(queue.claim()?.key, 'a-follow');
  });

  it('queues follow-up jobs with the completion, atomically', () => {
    queue.push({ key: 'a', payload: { n: 1 } });
    const job = queue.claim()!;
    queue.complete(job.id, [{ key: 'b', payload: { n: 2 } }, { key: 'a', payload: { n: 3 } }]);
    assert.deepEqual(queue.counts(), { pending: 1, running: 0, done: 1, dead: 0 });
  });

  it('gives a released job back without counting the attempt', () => {
    queue.push({ key: 'a', payload: { n: 1 } });
    queue.release(queue.claim()!.id);
    assert.equal(queue.claim()?.attempts, 1);
  });
});

describe('createCrankWorkers', () => {
  let dir: string;
  let queue: CrankQueue<Payload>;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-crank-workers-'));
    queue = createCrankQueue<Payload>({ path: join(dir, 'mu.sqlite'), retry: { baseMs: 10, maxMs: 20, maxAttempts: 5 } });
  });
  afterEach(async () => {
    queue.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs jobs and the jobs they lead to, retries failures and kills permanent ones', async () => {
    const seen: string[] = [];
    let flaky = 2;
    const workers = createCrankWorkers<Payload>({
      queue,
      log,
      concurrency: 3,
      isPermanent: (error) => error instanceof InvalidInputError,
      async handle(job: ClaimedJob<Payload>) {
        seen.push(job.key);
        if (job.key === 'flaky' && flaky-- > 0) throw new Error('try again');
        if (job.key === 'bad') throw new InvalidInputError('TEST_BAD', 'never works');
        return job.payload.n > 0 ? [{ key: `child-${job.payload.n - 1}`, payload: { n: job.payload.n - 1 } }] : [];
      },
    });
    workers.start();
    queue.push({ key: 'root', payload: { n: 2 } }, { key: 'flaky', payload: { n: 0 } }, { key: 'bad', payload: { n: 0 } });
    workers.wake();
    await waitFor(() => queue.counts().done === 4 && queue.counts().dead === 1);
    await workers.stop();
    assert.equal(seen.filter((key) => key === 'flaky').length, 3);
    assert.equal(seen.filter((key) => key === 'bad').length, 1);
    assert.ok(seen.includes('child-1') && seen.includes('child-0'));
  });

  it('on stop, abandons a job that does not finish: it stays queued for the next start', async () => {
    let started = false;
    const workers = createCrankWorkers<Payload>({
      queue,
      log,
      stopGraceMs: 50,
      handle: (_job, { signal }) =>
        new Promise((_, reject) => {
          started = true;
          signal.addEventListener('abort', () => reject(new Error('aborted')));
        }),
    });
    workers.start();
    queue.push({ key: 'slow', payload: { n: 0 } });
    workers.wake();
    await waitFor(() => started);
    await workers.stop();
    assert.deepEqual(queue.state('slow'), { state: 'pending', attempts: 0, progress: 0, lastError: null });
  });
});
