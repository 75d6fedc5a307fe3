import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isReadOnlyMethod, refusedWrite } from './read-only-methods.ts';

describe('isReadOnlyMethod', () => {
  it('classifies reads as read-only', () => {
    for (const method of [
      'eth_call',
      'eth_getBalance',
      'eth_getTransactionReceipt',
      'eth_blockNumber',
      'eth_chainId',
      'eth_estimateGas',
      'eth_subscribe',
      'net_version',
      'web3_clientVersion',
      'debug_traceTransaction',
      'debug_traceCall',
    ]) {
      assert.equal(isReadOnlyMethod(method), true, method);
    }
  });

  it('treats state changes and unknown methods as writes', () => {
    for (const method of [
      'eth_sendRawTransaction',
      'eth_sendTransaction',
      'evm_mine',
      'evm_increaseTime',
      'evm_snapshot',
      'evm_revert',
      'hardhat_setBalance',
      'hardhat_impersonateAccount',
      'anvil_setCode',
      'unknown_method',
      '',
    ]) {
      assert.equal(isReadOnlyMethod(method), false, method);
    }
  });

  it('matches prefixes exactly, case included', () => {
    assert.equal(isReadOnlyMethod('ETH_CALL'), false);
    assert.equal(isReadOnlyMethod('eth_ge'), false);
    assert.equal(isReadOnlyMethod('xdebug_trace'), false);
  });
});

describe('refusedWrite', () => {
  it('refuses interval mining with a nonzero interval, giving a reason', () => {
    for (const params of [[1000], [[1000, 2000]], [true]]) {
      const reason = refusedWrite('evm_setIntervalMining', params);
      assert.equal(typeof reason, 'string', JSON.stringify(params));
      assert.match(reason ?? '', /interval mining.*evm_mine/);
    }
  });

  it('allows turning interval mining off', () => {
    assert.equal(refusedWrite('evm_setIntervalMining', [0]), undefined);
    assert.equal(refusedWrite('evm_setIntervalMining', [false]), undefined);
  });

  it('allows other writes', () => {
    assert.equal(refusedWrite('evm_mine', []), undefined);
    assert.equal(refusedWrite('eth_sendRawTransaction', ['0x02']), undefined);
    assert.equal(refusedWrite('evm_setAutomine', [true]), undefined);
  });
});
