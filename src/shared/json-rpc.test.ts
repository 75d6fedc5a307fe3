import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RpcHandler } from './json-rpc.ts';

type RequestArguments = Parameters<RpcHandler['request']>[0];
import { MAX_BATCH, RPC_INTERNAL_ERROR, RPC_INVALID_REQUEST, RPC_PARSE_ERROR, handleBody } from './json-rpc.ts';

/** An in-memory provider: echoes its call, or fails for a few named methods. */
function memoryProvider(): RpcHandler & { calls: RequestArguments[] } {
  const calls: RequestArguments[] = [];
  return {
    calls,
    async request(args) {
      calls.push(args);
      if (args.method === 'rpc_fail') throw { code: 3, message: 'execution reverted', data: '0x08c379a0' };
      if (args.method === 'plain_fail') throw new Error('kaput');
      if (args.method === 'string_fail') throw 'just a string';
      if (args.method === 'slow') await new Promise((resolve) => setTimeout(resolve, 20));
      if (args.method === 'nothing') return undefined;
      return { method: args.method, params: args.params };
    },
  };
}

const body = (value: unknown): string => JSON.stringify(value);

describe('handleBody', () => {
  it('answers a body that is not JSON with a parse error and id null', async () => {
    const provider = memoryProvider();
    const response = await handleBody(provider, '{"jsonrpc":"2.0",');
    assert.deepEqual(response, { jsonrpc: '2.0', id: null, error: { code: RPC_PARSE_ERROR, message: 'parse error: body is not valid JSON' } });
    assert.equal(provider.calls.length, 0);
  });

  const invalid: [string, unknown, string | number | null][] = [
    ['a non-object', 42, null],
    ['a string', 'eth_chainId', null],
    ['a bad jsonrpc version', { jsonrpc: '1.0', id: 1, method: 'eth_chainId' }, 1],
    ['a missing method', { jsonrpc: '2.0', id: 'a' }, 'a'],
    ['an empty method', { jsonrpc: '2.0', id: 2, method: '' }, 2],
    ['an object id', { jsonrpc: '2.0', id: { n: 1 }, method: 'eth_chainId' }, null],
    ['a boolean id', { jsonrpc: '2.0', id: true, method: 'eth_chainId' }, null],
    ['string params', { jsonrpc: '2.0', id: 3, method: 'eth_chainId', params: 'x' }, 3],
    ['null params', { jsonrpc: '2.0', id: 4, method: 'eth_chainId', params: null }, 4],
    ['an empty batch', [], null],
  ];
  for (const [label, request, id] of invalid) {
    it(`refuses ${label} with -32600`, async () => {
      const provider = memoryProvider();
      const response = await handleBody(provider, body(request));
      assert.ok(response && !Array.isArray(response) && 'error' in response);
      assert.equal(response.error.code, RPC_INVALID_REQUEST);
      assert.equal(response.id, id);
      assert.equal(provider.calls.length, 0);
    });
  }

  it('refuses a batch over MAX_BATCH but accepts one of exactly MAX_BATCH', async () => {
    const provider = memoryProvider();
    const item = (id: number) => ({ jsonrpc: '2.0', id, method: 'eth_chainId' });
    const over = await handleBody(provider, body(Array.from({ length: MAX_BATCH + 1 }, (_, i) => item(i))));
    assert.ok(over && !Array.isArray(over) && 'error' in over);
    assert.equal(over.error.code, RPC_INVALID_REQUEST);
    assert.equal(provider.calls.length, 0);
    const full = await handleBody(provider, body(Array.from({ length: MAX_BATCH }, (_, i) => item(i))));
    assert.ok(Array.isArray(full));
    assert.equal(full.length, MAX_BATCH);
  });

  it('echoes the id unchanged: large numbers, strings, null', async () => {
    const provider = memoryProvider();
    for (const id of [1.8e16, 0, -7, 'abc-123', '', null]) {
      const response = await handleBody(provider, body({ jsonrpc: '2.0', id, method: 'eth_chainId' }));
      assert.ok(response && !Array.isArray(response));
      assert.equal(response.id, id);
    }
    const text = JSON.stringify(await handleBody(provider, '{"jsonrpc":"2.0","id":18000000000000000,"method":"eth_chainId"}'));
    assert.match(text, /"id":18000000000000000\b/);
  });

  it('passes params through, defaulting to [] and answering undefined results with null', async () => {
    const provider = memoryProvider();
    const withParams = await handleBody(provider, body({ jsonrpc: '2.0', id: 1, method: 'eth_getBalance', params: ['0xabc', 'latest'] }));
    assert.deepEqual(withParams, { jsonrpc: '2.0', id: 1, result: { method: 'eth_getBalance', params: ['0xabc', 'latest'] } });
    const noParams = await handleBody(provider, body({ jsonrpc: '2.0', id: 2, method: 'eth_chainId' }));
    assert.deepEqual(noParams, { jsonrpc: '2.0', id: 2, result: { method: 'eth_chainId', params: [] } });
    assert.deepEqual(await handleBody(provider, body({ jsonrpc: '2.0', id: 3, method: 'nothing' })), { jsonrpc: '2.0', id: 3, result: null });
  });

  it('sends no answer to notifications, though the provider still runs them', async () => {
    const provider = memoryProvider();
    assert.equal(await handleBody(provider, body({ jsonrpc: '2.0', method: 'evm_mine' })), undefined);
    assert.equal(await handleBody(provider, body({ jsonrpc: '2.0', method: 'plain_fail' })), undefined);
    const batch = [{ jsonrpc: '2.0', method: 'evm_mine' }, { jsonrpc: '2.0', method: 'rpc_fail' }];
    assert.equal(await handleBody(provider, body(batch)), undefined);
    assert.deepEqual(provider.calls.map((call) => call.method), ['evm_mine', 'plain_fail', 'evm_mine', 'rpc_fail']);
  });

  it('answers a batch in order, one at a time, leaving out notifications', async () => {
    const provider = memoryProvider();
    let inFlight = 0;
    let maxInFlight = 0;
    const counting: RpcHandler = {
      async request(args) {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        try {
          return await provider.request(args);
        } finally {
          inFlight--;
        }
      },
    };
    const batch = [
      { jsonrpc: '2.0', id: 'a', method: 'slow' },
      { jsonrpc: '2.0', method: 'evm_mine' },
      { jsonrpc: '2.0', id: 'b', method: 'eth_blockNumber' },
      { jsonrpc: '2.0', id: 'c', method: 'rpc_fail' },
      7,
    ];
    const responses = await handleBody(counting, body(batch));
    assert.ok(Array.isArray(responses));
    assert.deepEqual(responses.map((response) => response.id), ['a', 'b', 'c', null]);
    assert.deepEqual(provider.calls.map((call) => call.method), ['slow', 'evm_mine', 'eth_blockNumber', 'rpc_fail']);
    assert.equal(maxInFlight, 1);
    const last = responses[3];
    assert.ok(last && 'error' in last && last.error.code === RPC_INVALID_REQUEST);
  });

  it('passes provider errors through and turns other throws into -32603', async () => {
    const provider = memoryProvider();
    const call = (method: string) => handleBody(provider, body({ jsonrpc: '2.0', id: 9, method }));
    assert.deepEqual(await call('rpc_fail'), { jsonrpc: '2.0', id: 9, error: { code: 3, message: 'execution reverted', data: '0x08c379a0' } });
    assert.deepEqual(await call('plain_fail'), { jsonrpc: '2.0', id: 9, error: { code: RPC_INTERNAL_ERROR, message: 'kaput' } });
    assert.deepEqual(await call('string_fail'), { jsonrpc: '2.0', id: 9, error: { code: RPC_INTERNAL_ERROR, message: 'just a string' } });
  });

  it('lets the hook take over a method and leaves the rest to the provider', async () => {
    const provider = memoryProvider();
    const hook = (request: { method: string }) => (request.method === 'eth_subscribe' ? Promise.resolve('0xsub1') : undefined);
    const batch = [
      { jsonrpc: '2.0', id: 1, method: 'eth_subscribe', params: ['newHeads'] },
      { jsonrpc: '2.0', id: 2, method: 'eth_chainId' },
    ];
    const responses = await handleBody(provider, body(batch), hook);
    assert.deepEqual(responses, [
      { jsonrpc: '2.0', id: 1, result: '0xsub1' },
      { jsonrpc: '2.0', id: 2, result: { method: 'eth_chainId', params: [] } },
    ]);
    assert.deepEqual(provider.calls.map((call) => call.method), ['eth_chainId']);
    const failing = () => Promise.reject({ code: -32000, message: 'no subscriptions over HTTP' });
    const refused = await handleBody(provider, body({ jsonrpc: '2.0', id: 3, method: 'eth_subscribe' }), failing);
    assert.deepEqual(refused, { jsonrpc: '2.0', id: 3, error: { code: -32000, message: 'no subscriptions over HTTP' } });
  });
});
