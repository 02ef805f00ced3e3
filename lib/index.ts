// cr-creds public API.
export * from './model';
export * from './format/types';
export { native, type ProbeResult } from './native/binding';
