export { BlobNotFoundError, BlobStore, digestToHex, type AdoptedChunks, type BlobEntry, type BucketSurvey, type OrphanChunks, type StoredBlob } from './blob-store.js';
export { BlobStoreModule, type BlobStoreModuleOptions } from './blob-store.module.js';
