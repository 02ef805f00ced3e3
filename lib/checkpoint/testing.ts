// The test suite's entry to checkpoint(): also takes the hook that holds each task stopped under
// ptrace (to widen races on purpose). Not exported from the package.
export { checkpointWith as checkpointForTests } from './index';
