export * from './types';
export * from './capabilities';
export * from './ops';
export * from './creds';
export * from './tree';
// Ids a namespace does not map: the public part of the table (lib/model/unmapped.ts).
export { unmappedIds, withUnmapped, unmappedKey, groupsAsRead, OVERFLOW_ID, type UnmappedIds, type IdField } from './unmapped';
