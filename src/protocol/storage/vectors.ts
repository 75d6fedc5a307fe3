/**
 * SDK 1.2.8 reference vectors (spec storage.md §4.5–4.6), shared by unit tests here and by
 * compatibility tests elsewhere. File bytes are `i & 0xff` for byte i.
 */
import type { Hex } from './bytes.ts';

export type FileVector = {
  size: number;
  chunks: number;
  padded: number;
  segments: number;
  heights: number[];
  sectors: number;
  root: Hex;
};

export const FILE_VECTORS: readonly FileVector[] = [
  { size: 1, chunks: 1, padded: 1, segments: 1, heights: [0], sectors: 1, root: '0xd397b3b043d87fcd6fad1291ff0bfd16401c274896d8c63a923727f077b8e0b5' },
  { size: 255, chunks: 1, padded: 1, segments: 1, heights: [0], sectors: 1, root: '0x3a6f8a15b49eaf637f44cb42b167e0dc0146765d4778ddd6271da5230d52560c' },
  { size: 256, chunks: 1, padded: 1, segments: 1, heights: [0], sectors: 1, root: '0xdc924469b334aed2a19fac7252e9961aea41f8d91996366029dbe0884229bf36' },
  { size: 257, chunks: 2, padded: 2, segments: 1, heights: [1], sectors: 2, root: '0x04473d35bbe932a074046f571ee33f20ecb27cb3b8587cc3b48825c764c882d7' },
  { size: 1000, chunks: 4, padded: 4, segments: 1, heights: [2], sectors: 4, root: '0x584f8a2a93bae208a7271a4e62a6325cc8a6467c3412201ae353ddc44cd25816' },
  { size: 4096, chunks: 16, padded: 16, segments: 1, heights: [4], sectors: 16, root: '0x0f3435b305ea676f607d3af612a44049185d571e4c527fa1c1ae759b123a408d' },
  { size: 262144, chunks: 1024, padded: 1024, segments: 1, heights: [10], sectors: 1024, root: '0xd37eec890048ff5f2e3b33665811d40e7d0970e2d286c34e818fd5fb65ee03bf' },
  { size: 262145, chunks: 1025, padded: 1152, segments: 2, heights: [10, 7], sectors: 1152, root: '0x80f1cf983b5cbdb6f4f82e89497031d93cbeab8552ce834320305aad470afbd7' },
  { size: 300000, chunks: 1172, padded: 1280, segments: 2, heights: [10, 8], sectors: 1280, root: '0x368f46de39b704c967d72861150ab90b81baa11ad67d8036733c609b69961807' },
  { size: 1048576, chunks: 4096, padded: 4096, segments: 4, heights: [12], sectors: 4096, root: '0x979b4e950215784439ef50264be6f7986fdde9a07170808f81b2b61984d38d2f' },
  { size: 5242881, chunks: 20481, padded: 22528, segments: 22, heights: [14, 12, 11], sectors: 22528, root: '0xb0c5e74dbcdf409340d6dc336483067e160c74bbff60665798c0189c3ce43c24' },
];

/** §4.5: the 300000-byte file's two segment roots; its root is keccak(seg0 ‖ seg1). */
export const PROOF_VECTOR = {
  size: 300000,
  segmentRoots: [
    '0xd37eec890048ff5f2e3b33665811d40e7d0970e2d286c34e818fd5fb65ee03bf',
    '0x9ae92907fad6526a3dfca46a91e9133838ab19ef5db2f848a354530fae065b97',
  ] as const satisfies readonly Hex[],
} as const;

/** The vectors' file bytes: byte i is i & 0xff. */
export function vectorData(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = i & 0xff;
  return data;
}
