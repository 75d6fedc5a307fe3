/** ANS-104 data items: the shapes every AO unit and the gateway share (spec ao.md §4.1). */

export type Tag = { name: string; value: string };

/** A parsed data item. `raw` is the exact signed bytes; the other fields are views into it. */
export type DataItem = {
  signatureType: number;
  signature: Uint8Array;
  owner: Uint8Array;
  /** 32 raw bytes, or undefined when the target flag is 0. */
  target: Uint8Array | undefined;
  /** 32 raw bytes, or undefined when the anchor flag is 0. */
  anchor: Uint8Array | undefined;
  tags: Tag[];
  /** The Avro-encoded tag bytes exactly as signed. */
  rawTags: Uint8Array;
  data: Uint8Array;
  raw: Uint8Array;
  /** base64url(sha256(signature)): 43 characters. */
  id: string;
};

/** Something that can sign data items of one signature type. */
export type DataItemSigner = {
  signatureType: number;
  /** The owner field: the public key bytes as ANS-104 stores them for this type. */
  publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array | Promise<Uint8Array>;
};

export type CreateDataItemParameters = {
  signer: DataItemSigner;
  /** A 43-char base64url id. */
  target?: string;
  /** Exactly 32 bytes once UTF-8 encoded (aoconnect and aos anchors are 32 ASCII chars). */
  anchor?: string;
  tags?: readonly Tag[];
  data?: Uint8Array | string;
};
