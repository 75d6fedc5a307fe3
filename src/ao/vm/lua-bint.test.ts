import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { bootProcess } from './lua-test-kit.ts';
import type { Harness } from './lua-test-kit.ts';

const BITS = 256;
const wrap = (x: bigint) => BigInt.asIntN(BITS, x);

/** Random signed values of every size, plus the edges where carries and signs turn. */
function samples(count: number): bigint[] {
  const edges = [0n, 1n, -1n, 2n, 10n, 65535n, 65536n, -65536n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n, 2n ** 255n - 1n, -(2n ** 255n)];
  const random = Array.from({ length: count }, () => {
    const bytes = 1 + (randomBytes(1)[0]! % 32);
    return wrap(BigInt(`0x${randomBytes(bytes).toString('hex')}`) * (randomBytes(1)[0]! & 1 ? -1n : 1n));
  });
  return [...edges, ...random];
}

/** Floored division, as Lua's // and %. */
function floorDivMod(a: bigint, b: bigint): [bigint, bigint] {
  let q = a / b;
  let r = a % b;
  if (r !== 0n && r < 0n !== b < 0n) {
    q -= 1n;
    r += b;
  }
  return [wrap(q), wrap(r)];
}

describe('.bint: 256-bit integers in process code', () => {
  let p: Harness;
  before(async () => {
    p = await bootProcess({ bootData: "bint = require('.bint')(256)" });
    assert.equal(p.boot.Error, undefined, p.boot.Error);
  });

  /** Evaluates one Lua expression per pair over (x, y) and returns the printed results. */
  function run(pairs: [bigint, bigint][], expression: string): string[] {
    const list = pairs.map(([x, y]) => `{"${x}","${y}"}`).join(',');
    const code = `local out = {}
      for _, pair in ipairs({${list}}) do
        local x, y = bint(pair[1]), bint(pair[2])
        out[#out + 1] = tostring(${expression})
      end
      return table.concat(out, ' ')`;
    const result = p.eval(code);
    assert.equal(result.Error, undefined, result.Error);
    const output = (result.Output as { data: string }).data;
    return output.replace(/\x1b\[[0-9;]*m/g, '').split(' ');
  }

  const values = samples(40);
  const pairs: [bigint, bigint][] = values.flatMap((x, i) => [[x, values[(i * 7 + 3) % values.length]!] as [bigint, bigint]]);

  it('adds, subtracts, multiplies and negates, wrapping at 256 bits', () => {
    assert.deepEqual(run(pairs, 'x + y'), pairs.map(([x, y]) => String(wrap(x + y))));
    assert.deepEqual(run(pairs, 'x - y'), pairs.map(([x, y]) => String(wrap(x - y))));
    assert.deepEqual(run(pairs, 'x * y'), pairs.map(([x, y]) => String(wrap(x * y))));
    assert.deepEqual(run(pairs, '-x'), pairs.map(([x]) => String(wrap(-x))));
  });

  it('divides as Lua does: // and % floor, tdiv and tmod truncate', () => {
    const nonzero = pairs.filter(([, y]) => y !== 0n && !(y === -1n));
    assert.deepEqual(run(nonzero, 'x // y'), nonzero.map(([x, y]) => String(floorDivMod(x, y)[0])));
    assert.deepEqual(run(nonzero, 'x % y'), nonzero.map(([x, y]) => String(floorDivMod(x, y)[1])));
    assert.deepEqual(run(nonzero, 'bint.tdiv(x, y)'), nonzero.map(([x, y]) => String(wrap(x / y))));
    assert.deepEqual(run(nonzero, 'bint.tmod(x, y)'), nonzero.map(([x, y]) => String(wrap(x % y))));
  });

  it('compares signed and unsigned', () => {
    assert.deepEqual(run(pairs, 'x < y'), pairs.map(([x, y]) => String(x < y)));
    assert.deepEqual(run(pairs, 'x <= y'), pairs.map(([x, y]) => String(x <= y)));
    assert.deepEqual(run(pairs, 'x == y'), pairs.map(([x, y]) => String(x === y)));
    const unsigned = (v: bigint) => BigInt.asUintN(BITS, v);
    assert.deepEqual(run(pairs, 'bint.ult(x, y)'), pairs.map(([x, y]) => String(unsigned(x) < unsigned(y))));
  });

  it('does bitwise operations and shifts', () => {
    const unsigned = (v: bigint) => BigInt.asUintN(BITS, v);
    assert.deepEqual(run(pairs, 'x & y'), pairs.map(([x, y]) => String(wrap(x & y))));
    assert.deepEqual(run(pairs, 'x | y'), pairs.map(([x, y]) => String(wrap(x | y))));
    assert.deepEqual(run(pairs, 'x ~ y'), pairs.map(([x, y]) => String(wrap(x ^ y))));
    assert.deepEqual(run(pairs, '~x'), pairs.map(([x]) => String(wrap(~x))));
    for (const shift of [0, 1, 15, 16, 17, 100, 255, 256]) {
      assert.deepEqual(run(pairs, `x << ${shift}`), pairs.map(([x]) => String(wrap(x << BigInt(shift)))), `<< ${shift}`);
      assert.deepEqual(run(pairs, `x >> ${shift}`), pairs.map(([x]) => String(wrap(unsigned(x) >> BigInt(shift)))), `>> ${shift}`);
    }
  });

  it('prints in any base and parses what it prints', () => {
    assert.deepEqual(run(pairs, 'bint.tobase(x, 16)'), pairs.map(([x]) => BigInt.asUintN(BITS, x).toString(16)));
    assert.deepEqual(run(pairs, 'bint.fromstring(bint.tobase(x, 16), 16) == x'), pairs.map(() => 'true'));
    assert.deepEqual(run(pairs, 'bint.fromstring(tostring(x)) == x'), pairs.map(() => 'true'));
  });

  it('mixes with Lua numbers the way Lua mixes integers and floats', () => {
    assert.equal(p.value('tostring(bint(7) + 5)'), '12');
    assert.equal(p.value('bint(7) + 0.5'), '7.5');
    assert.equal(p.value('bint(7) / 2'), '3.5');
    assert.equal(p.value('tostring(bint("1000000000000000000000") * 3)'), '3000000000000000000000');
    assert.equal(p.value('bint(3) < 4'), 'true');
    assert.equal(p.value('tostring(bint.ipow(2, 200))'), String(2n ** 200n));
    assert.equal(p.value('tostring(bint(2) ^ 255)'), String(wrap(2n ** 255n)));
    assert.equal(p.value('bint.tonumber(bint(42))'), '42');
    assert.equal(p.value('math.type(bint.tonumber(bint("100000000000000000000")))'), 'float');
    assert.equal(p.value('tostring(bint(1e30))'), String(BigInt(1e30)), 'the float 1e30, exactly');
    assert.equal(p.value('tostring(bint.maxinteger())'), String(2n ** 255n - 1n));
    assert.equal(p.value('bint(5):iszero()'), 'false');
    assert.equal(p.value('"balance: " .. bint(12)'), 'balance: 12');
    assert.equal(p.value('require(".bint")(256) == bint'), 'true');
  });

  it('refuses what is not an integer, and division by zero', () => {
    for (const bad of ['bint("12abc")', 'bint(1.5)', 'bint({})', 'bint(1) // 0', 'bint("")']) {
      const result = p.eval(`return ${bad}`);
      assert.ok(result.Error, `${bad} must fail`);
    }
    assert.equal(p.value('tostring(bint.fromstring("nope"))'), 'nil');
  });

  it('keeps token arithmetic exact past 2^53', () => {
    const result = p.eval(`
      local balance = bint("1000000000000000000000000")
      local spent = bint("999999999999999999999999")
      return tostring(balance - spent) .. ' ' .. tostring(balance // bint(7))`);
    assert.equal(result.Error, undefined);
    assert.match((result.Output as { data: string }).data, new RegExp(`^1 ${10n ** 24n / 7n}$`));
  });
});
