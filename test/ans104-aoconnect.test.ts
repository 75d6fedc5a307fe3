/**
 * Levity's ANS-104 and cron rules against what unmodified @permaweb/aoconnect 0.0.98 produces.
 * Lives outside src/protocol because aoconnect is not a pure package (test/boundaries.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { connect, createDataItemSigner, serializeCron } from '@permaweb/aoconnect';
import { parseDataItem, toB64Url, verifyDataItem } from '../src/protocol/ans104/index.ts';
import type { RsaJwk, Tag } from '../src/protocol/ans104/index.ts';
import { parseCronInterval, processCrons } from '../src/protocol/ao/index.ts';

type SignMessage = (args: { process: string; data: string; tags: Tag[]; anchor?: string; signer: unknown }) => Promise<{ id: string; raw: Uint8Array }>;

describe('aoconnect 0.0.98 interop', () => {
  it('verifies data items aoconnect signs with createDataItemSigner (RSA-4096)', async () => {
    const jwk = generateKeyPairSync('rsa', { modulusLength: 4096 }).privateKey.export({ format: 'jwk' }) as RsaJwk;
    const unreachable = 'http://127.0.0.1:9';
    // signMessage only signs; nothing is sent, so the URLs are never contacted.
    const ao = connect({ MODE: 'legacy', MU_URL: unreachable, CU_URL: unreachable, GATEWAY_URL: unreachable } as never) as unknown as {
      signMessage: SignMessage;
    };
    const processId = toB64Url(new Uint8Array(randomBytes(32)));
    const anchor = '0123456789abcdef0123456789abcdef';
    const tags = [
      { name: 'Action', value: 'Eval' },
      { name: 'Ünï', value: '' },
    ];
    const signed = await ao.signMessage({ process: processId, data: 'return 1 + 1', tags, anchor, signer: createDataItemSigner(jwk) });
    const item = parseDataItem(new Uint8Array(signed.raw));
    assert.equal(item.id, signed.id);
    assert.equal(item.signatureType, 1);
    assert.equal(toB64Url(item.owner), jwk.n);
    assert.equal(toB64Url(item.target!), processId);
    assert.equal(Buffer.from(item.data).toString(), 'return 1 + 1');
    for (const tag of tags) assert.ok(item.tags.some((t) => t.name === tag.name && t.value === tag.value), tag.name);
    assert.equal(verifyDataItem(item), true);

    const tamperedData = item.raw.slice();
    tamperedData[tamperedData.length - 1]! ^= 1;
    assert.equal(verifyDataItem(parseDataItem(tamperedData)), false);
  });

  it('parses the cron tags serializeCron writes', () => {
    for (const interval of ['1-second', '10-minutes', '2-hours', '1-day', '5-blocks', '1-block', '3-months', '1-year']) {
      const tags = serializeCron({ interval, tags: [{ name: 'Action', value: 'Cron' }] }) as Tag[];
      assert.deepEqual(processCrons(tags), [{ interval, tags: [{ name: 'Action', value: 'Cron' }] }]);
      assert.doesNotThrow(() => parseCronInterval(interval));
    }
    for (const interval of ['10-minute', '1-minutes']) {
      assert.throws(() => serializeCron({ interval, tags: [] }));
      assert.throws(() => parseCronInterval(interval), { code: 'AO_BAD_CRON_INTERVAL' });
    }
  });
});
