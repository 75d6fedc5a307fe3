import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { blake2b, keccak } from 'hash-wasm';
import { bootProcess } from './lua-test-kit.ts';
import type { Harness } from './lua-test-kit.ts';

/** Lengths around every block and padding boundary of the digests under test. */
const LENGTHS = [0, 1, 3, 55, 56, 63, 64, 65, 71, 72, 111, 112, 127, 128, 129, 135, 136, 137, 200, 1000];

describe('.crypto: digests in process code', () => {
  let p: Harness;
  const inputs = LENGTHS.map((length) => randomBytes(length));
  before(async () => {
    p = await bootProcess({ bootData: "crypto = require('.crypto')" });
    assert.equal(p.boot.Error, undefined, p.boot.Error);
  });

  /** Hex digests the process computes for every input with `call` (a Lua function of the input). */
  function digests(call: string): string[] {
    const list = inputs.map((bytes) => `"${bytes.toString('hex')}"`).join(',');
    const result = p.eval(`local out = {}
      for _, h in ipairs({${list}}) do
        local data = crypto.utils.hex.hexToString(h)
        out[#out + 1] = (${call})(data).asHex()
      end
      return table.concat(out, ' ')`);
    assert.equal(result.Error, undefined, result.Error);
    return (result.Output as { data: string }).data.replace(/\x1b\[[0-9;]*m/g, '').split(' ');
  }

  const node = (algorithm: string) => inputs.map((bytes) => createHash(algorithm).update(bytes).digest('hex'));

  it('md5, sha1, sha2-256 and sha2-512 match node:crypto at every padding boundary', () => {
    assert.deepEqual(digests('crypto.digest.md5'), node('md5'));
    assert.deepEqual(digests('crypto.digest.sha1'), node('sha1'));
    assert.deepEqual(digests('crypto.digest.sha2_256'), node('sha256'));
    assert.deepEqual(digests('crypto.digest.sha2_512'), node('sha512'));
  });

  it('sha3 matches node:crypto and keccak matches Ethereum keccak', async () => {
    assert.deepEqual(digests('crypto.digest.sha3_256'), node('sha3-256'));
    assert.deepEqual(digests('crypto.digest.sha3_512'), node('sha3-512'));
    assert.deepEqual(digests('crypto.digest.keccak256'), await Promise.all(inputs.map((bytes) => keccak(bytes, 256))));
    assert.deepEqual(digests('crypto.digest.keccak512'), await Promise.all(inputs.map((bytes) => keccak(bytes, 512))));
  });

  it('blake2b with any output length and key', async () => {
    assert.deepEqual(digests('crypto.digest.blake2b'), node('blake2b512'));
    assert.deepEqual(digests('function(d) return crypto.digest.blake2b(d, 32) end'), await Promise.all(inputs.map((b) => blake2b(b, 256))));
    assert.deepEqual(
      digests('function(d) return crypto.digest.blake2b(d, 20, "secret_key") end'),
      await Promise.all(inputs.map((b) => blake2b(b, 160, 'secret_key'))),
    );
  });

  it('HMAC-SHA256 and HMAC-SHA1, keys shorter and longer than a block', () => {
    for (const key of ['k', 'x'.repeat(64), 'y'.repeat(100)]) {
      assert.deepEqual(
        digests(`function(d) return crypto.mac.createHmac(d, ${JSON.stringify(key)}) end`),
        inputs.map((bytes) => createHmac('sha256', key).update(bytes).digest('hex')),
      );
      assert.deepEqual(
        digests(`function(d) return crypto.mac.createHmac(crypto.utils.stream.fromString(d), ${JSON.stringify(key)}, "sha1") end`),
        inputs.map((bytes) => createHmac('sha1', key).update(bytes).digest('hex')),
      );
    }
  });

  it('takes streams and byte arrays, and gives bytes, hex and strings', () => {
    const abc = createHash('sha256').update('abc').digest('hex');
    assert.equal(p.value('crypto.digest.sha2_256(crypto.utils.stream.fromString("abc")).asHex()'), abc);
    assert.equal(p.value('crypto.digest.sha2_256(crypto.utils.stream.fromArray({97, 98, 99})).asHex()'), abc);
    assert.equal(p.value('crypto.digest.sha2_256({97, 98, 99}).asHex()'), abc);
    assert.equal(p.value('crypto.digest.sha2_256(crypto.utils.stream.fromHex("616263")).asHex()'), abc);
    assert.equal(p.value('#crypto.digest.sha2_256("abc").asBytes()'), '32');
    assert.equal(p.value('crypto.utils.hex.stringToHex(crypto.digest.sha2_256("abc").asString())'), abc);
    assert.equal(p.value('crypto.utils.array.toHex(crypto.utils.array.fromString("ao"))'), '616f');
  });

  it('refuses bad arguments with an error the process can catch', () => {
    for (const bad of ['crypto.digest.sha2_256(42)', 'crypto.digest.blake2b("x", 65)', 'crypto.mac.createHmac("x", "k", "md5")', 'crypto.utils.hex.hexToString("zz")']) {
      const result = p.eval(`return ${bad}`);
      assert.ok(result.Error, `${bad} must fail`);
    }
  });
});
