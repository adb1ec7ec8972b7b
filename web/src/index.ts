/** @intake/uploader: upload files to Intake from a browser app. Importing it touches nothing
 * (no DOM, no IndexedDB, no storage); `createUploader` builds the manager, and the manager
 * opens storage and starts workers only when it is used. */

export {
  createUploader,
  MAX_PERSIST_LIMIT,
  UploadManager,
  type Completed,
  type Failed,
  type ProgressEvent,
  type StatusChange,
  type UploaderEvents,
  type UploaderOptions,
} from "./uploader.js";
export { ApiError, type ChecksumAlgorithm, type ErrorCode } from "./api.js";
export type { FileLike } from "./fingerprint.js";
export type { ProgressSnapshot } from "./progress.js";
export { scopeOf, tokenClaims, type TokenClaims } from "./scope.js";
export type { Status } from "./state.js";
export { IndexedDbStorage, type StoredUpload, type UploadStorage } from "./store.js";
export type { UploadView } from "./upload.js";
export type { components as ApiSchemas, paths as ApiPaths } from "./generated/openapi.js";
