import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { InvalidInputError } from '../errors.ts';
import { assignmentTags, firstHashChain, nextHashChain, padBlockHeight } from './assignment.ts';

const b64 = (bytes: number[] | Uint8Array): string => Buffer.from(bytes).toString('base64url');
const idOf = (fill: number): string => b64(new Uint8Array(32).fill(fill));

describe('assignments', () => {
  it('writes the tags in the reference order', () => {
    const tags = assignmentTags({
      processId: idOf(1),
      nonce: 7,
      hashChain: idOf(2),
      blockHeight: 1234,
      timestamp: 1_718_033_463_123,
      messageId: idOf(3),
    });
    assert.deepEqual(tags, [
      { name: 'Process', value: idOf(1) },
      { name: 'Epoch', value: '0' },
      { name: 'Nonce', value: '7' },
      { name: 'Hash-Chain', value: idOf(2) },
      { name: 'Block-Height', value: '000000001234' },
      { name: 'Timestamp', value: '1718033463123' },
      { name: 'Data-Protocol', value: 'ao' },
      { name: 'Type', value: 'Assignment' },
      { name: 'Variant', value: 'ao.TN.1' },
      { name: 'Message', value: idOf(3) },
    ]);
  });

  it('adds Exclude last, only when given', () => {
    const base = { processId: idOf(1), epoch: 2, nonce: 0, hashChain: idOf(2), blockHeight: 0, timestamp: 0, messageId: idOf(3) };
    assert.equal(assignmentTags({ ...base, exclude: [] }).length, 10);
    const tags = assignmentTags({ ...base, exclude: ['Data', 'Anchor'] });
    assert.deepEqual(tags.at(-1), { name: 'Exclude', value: 'Data,Anchor' });
    assert.deepEqual(tags[1], { name: 'Epoch', value: '2' });
  });

  it('pads block heights to 12 digits and refuses impossible ones', () => {
    assert.equal(padBlockHeight(0), '000000000000');
    assert.equal(padBlockHeight(1_440_000), '000001440000');
    assert.equal(padBlockHeight(999_999_999_999), '999999999999');
    for (const bad of [-1, 1.5, 1e12, Number.NaN]) {
      assert.throws(() => padBlockHeight(bad), (e: unknown) => e instanceof InvalidInputError && e.code === 'AO_BAD_BLOCK_HEIGHT');
    }
  });

  it('computes HC_0 = b64url(sha256(decode(processId))) on known bytes', () => {
    const pid = idOf(0x11);
    const expected = createHash('sha256').update(new Uint8Array(32).fill(0x11)).digest('base64url');
    assert.equal(firstHashChain(pid), expected);
    // sha256 of 32 zero bytes, a fixed vector.
    assert.equal(
      Buffer.from(firstHashChain(idOf(0)), 'base64url').toString('hex'),
      '66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925',
    );
  });

  it('computes HC_n = b64url(sha256(decode(prevAssignment) ‖ decode(prevHC)))', () => {
    const previousAssignment = idOf(0xaa);
    const previousHc = idOf(0xbb);
    const expected = createHash('sha256')
      .update(Buffer.concat([Buffer.alloc(32, 0xaa), Buffer.alloc(32, 0xbb)]))
      .digest('base64url');
    assert.equal(nextHashChain(previousAssignment, previousHc), expected);
    assert.notEqual(nextHashChain(previousHc, previousAssignment), expected);
    // A chain of three links, each fed the one before.
    let hc = firstHashChain(idOf(1));
    for (const assignment of [idOf(5), idOf(6), idOf(7)]) hc = nextHashChain(assignment, hc);
    assert.equal(hc.length, 43);
  });

  it('refuses ids that are not base64url', () => {
    assert.throws(() => firstHashChain('not base64!'), (e: unknown) => e instanceof InvalidInputError);
  });
});
