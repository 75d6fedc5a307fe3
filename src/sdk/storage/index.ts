/** Storage actions: upload, download and inspect files on 0G-compatible storage nodes. */
export { uploadFile, defaultUploadFileOptions } from './upload-file.ts';
export type { UploadFileParameters, UploadFileReturnType, UploadPhase, UploadProgress } from './upload-file.ts';
export { downloadFile, defaultDownloadFileOptions } from './download-file.ts';
export type { DownloadFileParameters, DownloadFileReturnType } from './download-file.ts';
export { fileInfo } from './file-info.ts';
export type { FileInfoParameters, FileInfoReturnType, FileLocation } from './file-info.ts';
export { hashFile } from './hash-file.ts';
export type { HashFileParameters, HashFileReturnType } from './hash-file.ts';
export { StorageClientErrorCode } from './node-rpc.ts';
export type { StorageFileInfo, ShardedNode } from './node-rpc.ts';
