import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConflictError,
  InvalidInputError,
  LevityError,
  NotFoundError,
  UpstreamError,
  errorMessage,
  isLevityError,
} from './errors.ts';

describe('LevityError', () => {
  it('keeps code, shortMessage, details, meta and cause', () => {
    const cause = new Error('disk full');
    const error = new LevityError('CHAIN_WRITE_FAILED', 'could not write', {
      details: 'check free space',
      meta: { path: '/tmp/x', bytes: 12 },
      cause,
    });
    assert.equal(error.code, 'CHAIN_WRITE_FAILED');
    assert.equal(error.shortMessage, 'could not write');
    assert.equal(error.details, 'check free space');
    assert.deepEqual(error.meta, { path: '/tmp/x', bytes: 12 });
    assert.equal(error.cause, cause);
    assert.equal(error.name, 'LevityError');
  });

  it('builds the message from shortMessage and details', () => {
    const plain = new LevityError('X_Y', 'short');
    assert.equal(plain.message, 'short');
    assert.equal(plain.details, undefined);
    const detailed = new LevityError('X_Y', 'short', { details: 'more' });
    assert.equal(detailed.message, 'short\n\nDetails: more');
  });

  it('defaults meta to an empty object and leaves cause unset', () => {
    const error = new LevityError('X_Y', 'short');
    assert.deepEqual(error.meta, {});
    assert.equal('cause' in error, false);
  });

  it('serializes to code, shortMessage and meta only', () => {
    const error = new LevityError('X_Y', 'short', { details: 'hidden', meta: { n: 1 }, cause: new Error('c') });
    assert.deepEqual(error.toJSON(), { code: 'X_Y', message: 'short', meta: { n: 1 } });
    const parsed = JSON.parse(JSON.stringify(error));
    assert.deepEqual(parsed, { code: 'X_Y', message: 'short', meta: { n: 1 } });
    assert.equal('stack' in parsed, false);
    assert.equal('details' in parsed, false);
  });
});

describe('subclasses', () => {
  const cases = [
    [InvalidInputError, 'InvalidInputError'],
    [NotFoundError, 'NotFoundError'],
    [ConflictError, 'ConflictError'],
    [UpstreamError, 'UpstreamError'],
  ] as const;
  for (const [Subclass, name] of cases) {
    it(`${name} has its name and is a LevityError and an Error`, () => {
      const error = new Subclass('A_B', 'went wrong', { meta: { k: 'v' } });
      assert.equal(error.name, name);
      assert.ok(error instanceof Subclass);
      assert.ok(error instanceof LevityError);
      assert.ok(error instanceof Error);
      assert.equal(error.code, 'A_B');
      assert.deepEqual(error.toJSON(), { code: 'A_B', message: 'went wrong', meta: { k: 'v' } });
      assert.match(String(error.stack), new RegExp(`^${name}: went wrong`));
    });
  }

  it('subclasses are not instances of each other', () => {
    assert.equal(new NotFoundError('A_B', 'x') instanceof ConflictError, false);
  });
});

describe('isLevityError', () => {
  it('accepts LevityError and subclasses only', () => {
    assert.equal(isLevityError(new LevityError('A_B', 'x')), true);
    assert.equal(isLevityError(new UpstreamError('A_B', 'x')), true);
    assert.equal(isLevityError(new Error('x')), false);
    assert.equal(isLevityError({ code: 'A_B', message: 'x', shortMessage: 'x' }), false);
    assert.equal(isLevityError(undefined), false);
    assert.equal(isLevityError('A_B'), false);
  });
});

describe('errorMessage', () => {
  it('uses shortMessage for a LevityError, leaving details out', () => {
    assert.equal(errorMessage(new ConflictError('A_B', 'in use', { details: 'stop it' })), 'in use');
  });

  it('uses message for other Errors', () => {
    assert.equal(errorMessage(new TypeError('bad type')), 'bad type');
  });

  it('stringifies anything else', () => {
    assert.equal(errorMessage('plain string'), 'plain string');
    assert.equal(errorMessage(42), '42');
    assert.equal(errorMessage(undefined), 'undefined');
    assert.equal(errorMessage(null), 'null');
  });
});
