import { z } from 'zod';
import type { Hex } from 'viem';
import type { SegmentUpload, StorageService } from './storage-service.ts';
import { invalidParams } from './rpc-errors.ts';

const hash = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'expected a 32-byte 0x hash');
const uint = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const MAX_SEGMENT_BASE64 = Math.ceil((256 * 1024) / 3) * 4;

const segmentSchema = z.object({
  root: hash,
  data: z.string().max(MAX_SEGMENT_BASE64, 'segment data over 256 KiB'),
  index: uint,
  proof: z.object({ lemma: z.array(hash).max(64), path: z.array(z.boolean()).max(64) }),
  fileSize: uint,
});

export type ZgsStatus = {
  connectedPeers: number;
  logSyncHeight: number;
  logSyncBlock: Hex;
  nextTxSeq: number;
  networkIdentity: { chainId: number; flowAddress: Hex; p2pProtocolVersion: { major: number; minor: number; build: number } };
};

export type ZgsRpcDeps = { service: StorageService; status: () => Promise<ZgsStatus> };

type Method = (params: unknown[]) => Promise<unknown> | unknown;

/** Reads positional param `i` against a schema; a mismatch names the param as 0G does. */
function param<T>(params: unknown[], i: number, name: string, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(params[i]);
  if (!parsed.success) throw invalidParams(name, parsed.error.issues[0]?.message ?? 'invalid value');
  return parsed.data;
}

function toUpload(segment: z.infer<typeof segmentSchema>): SegmentUpload {
  const data = Buffer.from(segment.data, 'base64');
  return { root: segment.root as Hex, data, index: segment.index, proof: segment.proof as SegmentUpload['proof'], fileSize: segment.fileSize };
}

/** The `zgs_*` methods the 0G SDKs call, with the node's parameter order and result shapes. */
export function zgsMethods(deps: ZgsRpcDeps): Record<string, Method> {
  const { service } = deps;
  const ref = (params: unknown[], name: string): { seq: number } | { root: Hex } =>
    typeof params[0] === 'number' ? { seq: param(params, 0, name, uint) } : { root: param(params, 0, name, hash) as Hex };
  return {
    zgs_getStatus: () => deps.status(),
    zgs_getShardConfig: () => service.shard,
    zgs_getFileInfo: (p) => service.fileInfo({ root: param(p, 0, 'data_root', hash) as Hex }),
    zgs_getFileInfoByTxSeq: (p) => service.fileInfo({ seq: param(p, 0, 'tx_seq', uint) }),
    zgs_checkFileFinalized: (p) => service.fileInfo(ref(p, 'tx_seq_or_root'))?.finalized ?? null,
    zgs_uploadSegment: (p) => service.upload([toUpload(param(p, 0, 'segment', segmentSchema))]),
    zgs_uploadSegments: (p) => service.upload(param(p, 0, 'segments', z.array(segmentSchema).max(1024)).map(toUpload)),
    zgs_uploadSegmentsByTxSeq: (p) =>
      service.upload(param(p, 0, 'segments', z.array(segmentSchema).max(1024)).map(toUpload), param(p, 1, 'tx_seq', uint)),
    zgs_downloadSegment: (p) => service.download({ root: param(p, 0, 'data_root', hash) as Hex }, param(p, 1, 'start_index', uint), param(p, 2, 'end_index', uint)),
    zgs_downloadSegmentByTxSeq: (p) => service.download({ seq: param(p, 0, 'tx_seq', uint) }, param(p, 1, 'start_index', uint), param(p, 2, 'end_index', uint)),
    zgs_downloadSegmentWithProof: (p) => service.downloadWithProof({ root: param(p, 0, 'data_root', hash) as Hex }, param(p, 1, 'index', uint)),
    zgs_downloadSegmentWithProofByTxSeq: (p) => service.downloadWithProof({ seq: param(p, 0, 'tx_seq', uint) }, param(p, 1, 'index', uint)),
  };
}
