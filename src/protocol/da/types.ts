import type { Address, Hex } from 'viem';

/** What a data root commits to: everything needed to check cells and rebuild the payload. */
export type BlobHeader = {
  /** The committee epoch the data was dispersed in (the contract's registration count). */
  epoch: bigint;
  payloadSize: number;
  blobCount: number;
  /** One 48-byte KZG commitment per blob, in blob order. */
  commitments: Hex[];
};

/** Where a cell sits: blob index within the payload, cell index within the extended blob (0..127). */
export type CellRef = { blob: number; cell: number };

export type CellWithProof = CellRef & { data: Uint8Array; proof: Uint8Array };

/** A registered DA node as the contract lists it. */
export type CommitteeMember = {
  index: number;
  address: Address;
  url: string;
  stake: bigint;
  /** 48-byte compressed BLS12-381 G1 public key. */
  publicKey: Uint8Array;
};

/** The node set of one epoch: fixed until the next registration. */
export type Committee = {
  epoch: bigint;
  /** How many nodes hold each cell (already capped at the node count). */
  replication: number;
  members: CommitteeMember[];
};

/** The chain a certificate is for: messages bind the chain id and the contract address. */
export type DaDomain = { chainId: number; contract: Address };
