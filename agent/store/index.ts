// The protected credential store (DESIGN.md section 8): public API for the sandbox and the pilot.
export type { Owner, AtomicWriteOptions } from './atomic-write.ts';
export { atomicWriteFile } from './atomic-write.ts';
export type { SafeReadOptions } from './safe-read.ts';
export { safeReadFile } from './safe-read.ts';
export type { NameKind } from './names.ts';
export { checkName, MAX_NAME_LENGTH } from './names.ts';
export type { ExpiryEntry, ExpiryCallback, ExpiryTimers, ExpiryIndexOptions } from './expiry-index.ts';
export { ExpiryIndex } from './expiry-index.ts';
export type { CredStoreOptions } from './cred-store.ts';
export { CredStore, STORE_DIR_MODES } from './cred-store.ts';
export type { RemoveTreeOptions } from './remove-tree.ts';
export { removeTree } from './remove-tree.ts';
