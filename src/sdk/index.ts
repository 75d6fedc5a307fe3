/** Levity's client SDK: actions for users of a devnet or network. */
export { readManifest, DEFAULT_DEVNET_DIR } from './read-manifest.ts';
export type { ReadManifestParameters, ReadManifestReturnType } from './read-manifest.ts';
export { probeEndpoints } from './probe-endpoints.ts';
export type { EndpointHealth, ProbeEndpointsParameters } from './probe-endpoints.ts';
export type { Manifest } from '../protocol/manifest.ts';
export { LevityError } from '../protocol/errors.ts';
export {
  uploadFile,
  defaultUploadFileOptions,
  downloadFile,
  defaultDownloadFileOptions,
  fileInfo,
  hashFile,
  StorageClientErrorCode,
} from './storage/index.ts';
export type {
  UploadFileParameters,
  UploadFileReturnType,
  UploadPhase,
  UploadProgress,
  DownloadFileParameters,
  DownloadFileReturnType,
  FileInfoParameters,
  FileInfoReturnType,
  FileLocation,
  HashFileParameters,
  HashFileReturnType,
  StorageFileInfo,
  ShardedNode,
} from './storage/index.ts';
export * from './ao/index.ts';
export * from './da/index.ts';
export * from './serving/index.ts';
