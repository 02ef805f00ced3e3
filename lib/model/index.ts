export * from './types';
export * from './capabilities';
export * from './ops';
