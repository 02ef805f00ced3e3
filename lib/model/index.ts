export * from './types';
export * from './capabilities';
export * from './ops';
export * from './creds';
export * from './tree';
export * from './unmapped';
