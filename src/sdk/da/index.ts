/** DA actions: submit payloads for certification, read them back, sample their availability. */
export { readCommittee, readCertificate, committeeAt } from './committee.ts';
export type { CertificateRecord, ReadCommitteeParameters, ReadCertificateParameters } from './committee.ts';
export { daNodeClient } from './node-client.ts';
export type { DaAttestation, DaCustodyProgress, DaNodeClient, DaNodeClientOptions, DaNodeInfo } from './node-client.ts';
export { submitBlob, blobStatus, waitForBlob, BlobState } from './aggregator-client.ts';
export type {
  BlobStatus,
  BlobStatusParameters,
  SubmitBlobParameters,
  SubmitBlobReturnType,
  WaitForBlobParameters,
} from './aggregator-client.ts';
export { retrieveBlob } from './retrieve-blob.ts';
export type { RetrieveBlobParameters, RetrieveBlobReturnType, RetrieveProgress, RetrieveReport } from './retrieve-blob.ts';
export { sampleBlob, defaultSampleBlobOptions } from './sample-blob.ts';
export type { Sample, SampleBlobParameters, SampleBlobReturnType, SampleFailure } from './sample-blob.ts';
export type { BadNode, ReadSourceParameters, UnreachableNode } from './locate-root.ts';
export { DaClientErrorCode } from './da-http.ts';
export type { FetchLike } from './da-http.ts';
