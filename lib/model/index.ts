export * from './types';
export * from './capabilities';
