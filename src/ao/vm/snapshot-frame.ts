import { InvalidInputError } from '../../protocol/errors.ts';

/**
 * The file layout of a process checkpoint, whatever the VM: a u32 (little-endian) header length,
 * the header (a magic line, then JSON with at least `version`), then the VM's memory bytes.
 */
export type SnapshotFormat = { magic: string; version: number; kind: string; maxHeaderBytes: number };

export function encodeSnapshot(format: SnapshotFormat, header: { version: number }, body: Uint8Array): Uint8Array {
  const headerBytes = new TextEncoder().encode(format.magic + JSON.stringify(header) + '\n');
  const out = new Uint8Array(4 + headerBytes.length + body.length);
  new DataView(out.buffer).setUint32(0, headerBytes.length, true);
  out.set(headerBytes, 4);
  out.set(body, 4 + headerBytes.length);
  return out;
}

/** The header (its fields beyond `version` unchecked: the caller knows them) and a view of the body. */
export function decodeSnapshot<H extends { version: number }>(format: SnapshotFormat, snapshot: Uint8Array): { header: H; body: Uint8Array } {
  const bad = (why: string) => new InvalidInputError('AO_VM_SNAPSHOT_INVALID', `not a ${format.kind} snapshot: ${why}`);
  if (snapshot.length < 4) throw bad('too short');
  const headerLength = new DataView(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength).getUint32(0, true);
  if (headerLength > format.maxHeaderBytes || 4 + headerLength > snapshot.length) throw bad('bad header length');
  const text = new TextDecoder().decode(snapshot.subarray(4, 4 + headerLength));
  if (!text.startsWith(format.magic)) throw bad('bad magic');
  let header: H;
  try {
    header = JSON.parse(text.slice(format.magic.length)) as H;
  } catch {
    throw bad('bad header');
  }
  if (header.version !== format.version) throw bad(`version ${header.version}`);
  return { header, body: snapshot.subarray(4 + headerLength) };
}
