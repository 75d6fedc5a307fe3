import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OTHER_PROCESS, OWNER, STRANGER, TOKEN_SOURCE, bootProcess, tagsOf } from './lua-test-kit.ts';
import type { Harness } from './lua-test-kit.ts';

const SUPPLY = '1000000000000000';

/** A token process whose owner has minted SUPPLY. */
async function token(how: 'boot' | 'eval' = 'boot'): Promise<Harness> {
  const p = how === 'boot' ? await bootProcess({ bootData: TOKEN_SOURCE }) : await bootProcess();
  if (how === 'eval') assert.equal(p.eval(TOKEN_SOURCE).Error, undefined);
  assert.equal(p.boot.Error, undefined, p.boot.Error);
  assert.deepEqual(JSON.parse(p.send({ tags: { Action: 'Balances' } }).Messages[0]?.Data ?? ''), [], 'no supply before a mint');
  const minted = p.send({ tags: { Action: 'Mint', Quantity: SUPPLY } }).Messages[0];
  assert.equal(tagsOf(minted!).Action, 'Mint-Notice');
  return p;
}

describe('token blueprint fixture (fixtures/token.lua)', () => {
  it('boots from On-Boot=Data and answers Info, Balance and Balances', async () => {
    const p = await token();
    const info = p.send({ from: STRANGER, tags: { Action: 'Info' } }).Messages[0];
    assert.ok(info);
    assert.equal(info.Target, STRANGER);
    assert.deepEqual(
      { Name: tagsOf(info).Name, Ticker: tagsOf(info).Ticker, Denomination: tagsOf(info).Denomination },
      { Name: 'Levity Test Token', Ticker: 'LTT', Denomination: '12' },
    );

    const own = p.send({ tags: { Action: 'Balance' } }).Messages[0];
    assert.equal(own?.Data, SUPPLY);
    assert.equal(tagsOf(own!).Balance, SUPPLY);
    assert.equal(tagsOf(own!).Account, OWNER);

    const theirs = p.send({ from: STRANGER, tags: { Action: 'Balance', Recipient: OTHER_PROCESS } }).Messages[0];
    assert.equal(theirs?.Data, '0');

    const all = p.send({ tags: { Action: 'Balances' } }).Messages[0];
    assert.deepEqual(JSON.parse(all?.Data ?? ''), { [OWNER]: SUPPLY });
  });

  it('Transfer moves balance and sends a Debit-Notice and a Credit-Notice', async () => {
    const p = await token('eval');
    const transfer = p.send({ tags: { Action: 'Transfer', Recipient: STRANGER, Quantity: '250', 'X-Order': '17' } });
    assert.equal(transfer.Error, undefined);
    const [debit, credit] = transfer.Messages;
    assert.ok(debit && credit);
    assert.equal(debit.Target, OWNER);
    assert.deepEqual(
      { Action: tagsOf(debit).Action, Recipient: tagsOf(debit).Recipient, Quantity: tagsOf(debit).Quantity, 'X-Order': tagsOf(debit)['X-Order'] },
      { Action: 'Debit-Notice', Recipient: STRANGER, Quantity: '250', 'X-Order': '17' },
    );
    assert.equal(credit.Target, STRANGER);
    assert.deepEqual(
      { Action: tagsOf(credit).Action, Sender: tagsOf(credit).Sender, Quantity: tagsOf(credit).Quantity, 'X-Order': tagsOf(credit)['X-Order'] },
      { Action: 'Credit-Notice', Sender: OWNER, Quantity: '250', 'X-Order': '17' },
    );
    assert.equal(p.send({ from: STRANGER, tags: { Action: 'Balance' } }).Messages[0]?.Data, '250');
    assert.equal(p.send({ tags: { Action: 'Balance' } }).Messages[0]?.Data, String(BigInt(SUPPLY) - 250n));
    assert.equal(p.send({ tags: { Action: 'Total-Supply' } }).Messages[0]?.Data, SUPPLY);
  });

  it('refuses transfers it cannot make, without changing balances', async () => {
    const p = await token();
    const tooMuch = p.send({ from: STRANGER, tags: { Action: 'Transfer', Recipient: OWNER, Quantity: '1' } }).Messages[0];
    assert.equal(tagsOf(tooMuch!).Action, 'Transfer-Error');
    assert.equal(tagsOf(tooMuch!).Error, 'Insufficient Balance!');
    for (const quantity of ['-5', '0', 'abc', '1.5']) {
      const refused = p.send({ tags: { Action: 'Transfer', Recipient: STRANGER, Quantity: quantity } }).Messages[0];
      assert.equal(tagsOf(refused!).Action, 'Transfer-Error', quantity);
    }
    assert.deepEqual(JSON.parse(p.send({ tags: { Action: 'Balances' } }).Messages[0]?.Data ?? ''), { [OWNER]: SUPPLY });
  });

  it('Cast transfers send no notices', async () => {
    const p = await token();
    const cast = p.send({ tags: { Action: 'Transfer', Recipient: STRANGER, Quantity: '5', Cast: 'true' } });
    assert.deepEqual(cast.Messages, []);
    assert.equal(p.send({ from: STRANGER, tags: { Action: 'Balance' } }).Messages[0]?.Data, '5');
  });

  it('only the owner may Mint', async () => {
    const p = await token();
    const minted = p.send({ tags: { Action: 'Mint', Quantity: '1000' } }).Messages[0];
    assert.equal(tagsOf(minted!).Action, 'Mint-Notice');
    assert.equal(p.send({ tags: { Action: 'Total-Supply' } }).Messages[0]?.Data, String(BigInt(SUPPLY) + 1000n));
    const refused = p.send({ from: STRANGER, tags: { Action: 'Mint', Quantity: '1000' } }).Messages[0];
    assert.equal(tagsOf(refused!).Action, 'Mint-Error');
    assert.equal(p.send({ tags: { Action: 'Total-Supply' } }).Messages[0]?.Data, String(BigInt(SUPPLY) + 1000n));
  });

  it('answers Balance by dry-run with a Target tag (the e2e flow: mint 1000, send 250)', async () => {
    const p = await bootProcess({ bootData: TOKEN_SOURCE });
    p.send({ tags: { Action: 'Mint', Quantity: '1000' } });
    p.send({ tags: { Action: 'Transfer', Recipient: STRANGER, Quantity: '250' } });
    const balance = (target: string) =>
      tagsOf(p.process.dryRun(p.message({ tags: { Action: 'Balance', Target: target } }), p.env).Messages[0]!).Balance;
    assert.equal(balance(OWNER), '750');
    assert.equal(balance(STRANGER), '250');
    p.send({ tags: { Action: 'Transfer', Recipient: STRANGER, Quantity: '100000' } });
    assert.equal(balance(OWNER), '750');
    assert.equal(p.process.dryRun(p.message({ tags: { Action: 'Balance', Target: OWNER } }), p.env).Messages[0]?.Data, '750');
  });

  it('gives the same balances and state hash on two processes fed the same transfers', async () => {
    const run = async () => {
      const p = await token();
      for (let i = 1; i <= 20; i++) p.send({ tags: { Action: 'Transfer', Recipient: i % 2 ? STRANGER : OTHER_PROCESS, Quantity: String(i) } });
      p.send({ from: STRANGER, tags: { Action: 'Transfer', Recipient: OTHER_PROCESS, Quantity: '7' } });
      return p;
    };
    const [a, b] = [await run(), await run()];
    assert.equal(a.process.stateHash(), b.process.stateHash());
    const balances = JSON.parse(a.send({ tags: { Action: 'Balances' } }).Messages[0]?.Data ?? '') as Record<string, string>;
    assert.equal(balances[STRANGER], String(100 - 7));
    assert.equal(balances[OTHER_PROCESS], String(110 + 7));
  });
});
