import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Hex } from 'viem';
import { InvalidInputError } from '../errors.ts';
import {
  blobHeaderToJson,
  CELL_RECORD_BYTES,
  decodeCells,
  decodeCustodyRequest,
  encodeCells,
  encodeCustodyRequest,
  formatCellRefs,
  parseBlobHeader,
  parseCellRefs,
} from './cell-wire.ts';
import type { BlobHeader, CellWithProof } from './types.ts';

const malformed = (error: unknown) => error instanceof InvalidInputError && error.code === 'DA_WIRE_MALFORMED';
const rand = (n: number) => new Uint8Array(randomBytes(n));
const commitment = (): Hex => `0x${Buffer.from(randomBytes(48)).toString('hex')}`;

const header: BlobHeader = {
  epoch: 7n,
  payloadSize: 200_000,
  blobCount: 2,
  commitments: [commitment(), commitment()],
};
const cells: CellWithProof[] = [
  { blob: 0, cell: 0, data: rand(2048), proof: rand(48) },
  { blob: 1, cell: 127, data: rand(2048), proof: rand(48) },
  { blob: 1, cell: 64, data: rand(2048), proof: rand(48) },
];

/** Builds a message by hand, so malformed variants can be made field by field. */
function message(parts: {
  magic?: string;
  version?: number;
  kind?: number;
  headerText?: string;
  headerLength?: number;
  count?: number;
  records?: Uint8Array;
  trailing?: number;
}): Uint8Array {
  const json = new TextEncoder().encode(parts.headerText ?? JSON.stringify(blobHeaderToJson(header)));
  const records = parts.records ?? new Uint8Array(0);
  const out = new Uint8Array(4 + 1 + 1 + 4 + json.length + 4 + records.length + (parts.trailing ?? 0));
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(parts.magic ?? 'LVDA'), 0);
  view.setUint8(4, parts.version ?? 1);
  view.setUint8(5, parts.kind ?? 1);
  view.setUint32(6, parts.headerLength ?? json.length);
  out.set(json, 10);
  view.setUint32(10 + json.length, parts.count ?? records.length / CELL_RECORD_BYTES);
  out.set(records, 14 + json.length);
  return out;
}

function record(blob: number, cell: number): Uint8Array {
  const out = new Uint8Array(CELL_RECORD_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, blob);
  view.setUint16(4, cell);
  return out;
}

describe('cell wire format', () => {
  it('round-trips a custody request', () => {
    const bytes = encodeCustodyRequest({ header, cells });
    assert.equal(bytes.length, 4 + 1 + 1 + 4 + JSON.stringify(blobHeaderToJson(header)).length + 4 + 3 * 2102);
    assert.deepEqual([...bytes.subarray(0, 6)], [0x4c, 0x56, 0x44, 0x41, 1, 1]);
    const decoded = decodeCustodyRequest(bytes);
    assert.deepEqual(decoded.header, header);
    assert.deepEqual(decoded.cells, cells);
    // Decoding works on a view at an offset too (an HTTP body inside a bigger buffer).
    const padded = new Uint8Array(bytes.length + 10);
    padded.set(bytes, 5);
    assert.deepEqual(decodeCustodyRequest(padded.subarray(5, 5 + bytes.length)).cells, cells);
  });

  it('round-trips cells, including none', () => {
    const bytes = encodeCells(cells);
    assert.equal(bytes[5], 2);
    assert.deepEqual(decodeCells(bytes), cells);
    assert.deepEqual(decodeCells(encodeCells([])), []);
  });

  it('normalises commitment case and keeps big epochs exact', () => {
    const upper = { ...blobHeaderToJson(header), epoch: '18446744073709551615' };
    upper.commitments = upper.commitments.map((c) => `0x${c.slice(2).toUpperCase()}` as Hex);
    const parsed = parseBlobHeader(upper);
    assert.equal(parsed.epoch, 2n ** 64n - 1n);
    assert.deepEqual(parsed.commitments, header.commitments);
  });

  it('refuses malformed preambles, lengths and trailing bytes', () => {
    const good = encodeCustodyRequest({ header, cells });
    for (const bad of [
      new Uint8Array(0),
      good.subarray(0, 9),
      good.subarray(0, good.length - 1),
      message({ magic: 'LVDB' }),
      message({ version: 2 }),
      message({ kind: 2 }), // a custody request must be kind 1
      message({ kind: 3 }),
      message({ headerLength: 100_000 }),
      message({ count: 1 }), // announces a cell that is not there
      message({ records: record(0, 0), count: 2 }),
      message({ records: record(0, 0), trailing: 1 }),
      message({ trailing: 5 }),
    ]) {
      assert.throws(() => decodeCustodyRequest(bad), malformed);
    }
    assert.throws(() => decodeCells(good), malformed); // kind 1 where kind 2 is expected
    assert.throws(() => decodeCells(encodeCells(cells).subarray(1)), malformed);
  });

  it('refuses bad cell indexes', () => {
    assert.throws(() => decodeCustodyRequest(message({ records: record(0, 128) })), malformed);
    assert.throws(() => decodeCustodyRequest(message({ records: record(2, 0) })), malformed); // blob 2 of 2
    assert.doesNotThrow(() => decodeCustodyRequest(message({ records: record(1, 127) })));
    assert.throws(() => decodeCells(message({ kind: 2, headerText: '{}', records: record(0, 0xffff) })), malformed);
  });

  it('refuses header JSON of the wrong shape', () => {
    const json = blobHeaderToJson(header);
    const variants: unknown[] = [
      { ...json, epoch: 7 },
      { ...json, epoch: '07' },
      { ...json, epoch: '-1' },
      { ...json, epoch: '18446744073709551616' },
      { ...json, payloadSize: 0 },
      { ...json, payloadSize: 1.5 },
      { ...json, blobCount: 3 }, // 200,000 bytes take 2 blobs
      { ...json, commitments: json.commitments.slice(1) },
      { ...json, commitments: [json.commitments[0], '0x1234'] },
      { ...json, extra: true },
      { epoch: '7', payloadSize: 1, blobCount: 1 },
      [],
      null,
    ];
    for (const value of variants) {
      assert.throws(() => decodeCustodyRequest(message({ headerText: JSON.stringify(value) })), malformed);
    }
    assert.throws(() => decodeCustodyRequest(message({ headerText: '{"epoch":' })), malformed);
    assert.throws(() => decodeCustodyRequest(message({ headerText: '\uFFFD' })), malformed);
    const invalidUtf8 = message({ headerText: 'xx' });
    invalidUtf8[10] = 0xc3;
    invalidUtf8[11] = 0x28;
    assert.throws(() => decodeCustodyRequest(invalidUtf8), malformed);
    assert.throws(() => decodeCells(message({ kind: 2, headerText: '{"a":1}' })), malformed);
    assert.throws(() => decodeCells(message({ kind: 2, headerText: '[]' })), malformed);
  });

  it('gives a readable reason', () => {
    assert.throws(
      () => decodeCustodyRequest(message({ version: 9 })),
      (error: unknown) => malformed(error) && /version 9/.test(String(error)),
    );
  });

  it('refuses to encode what it would not decode', () => {
    const bad = (cell: Partial<CellWithProof>) => [{ ...cells[0]!, ...cell }];
    assert.throws(() => encodeCells(bad({ cell: 128 })), malformed);
    assert.throws(() => encodeCells(bad({ blob: -1 })), malformed);
    assert.throws(() => encodeCells(bad({ data: rand(2047) })), malformed);
    assert.throws(() => encodeCells(bad({ proof: rand(96) })), malformed);
    assert.throws(() => encodeCustodyRequest({ header, cells: bad({ blob: 2 }) }), malformed);
    assert.throws(() => encodeCustodyRequest({ header: { ...header, blobCount: 1 }, cells }), malformed);
  });

  it('formats and parses cell references', () => {
    const refs = [
      { blob: 0, cell: 1 },
      { blob: 0, cell: 5 },
      { blob: 3, cell: 127 },
    ];
    assert.equal(formatCellRefs(refs), '0:1,0:5,3:127');
    assert.deepEqual(parseCellRefs('0:1,0:5,3:127'), refs);
    assert.deepEqual(parseCellRefs(''), []);
    assert.equal(formatCellRefs([]), '');
    for (const bad of ['0:128', '0:01', '00:1', '0:', ':1', '0:1,', '0:1;1:2', ' 0:1', '-1:0', '1:2:3', '4294967296:0']) {
      assert.throws(() => parseCellRefs(bad), malformed, bad);
    }
    assert.deepEqual(parseCellRefs('4294967295:0'), [{ blob: 4294967295, cell: 0 }]);
    assert.throws(() => formatCellRefs([{ blob: 0, cell: 200 }]), malformed);
  });
});
