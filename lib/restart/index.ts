// Restart for real: a program whose process carries an image's credentials.
export { restart, planRestart, callerCreds, type RestartPlanReport, type ExecCreds } from './start';
export type { RestartOptions, StdioOption, StdioEntry } from './options';
export { RestartHandle } from './handle';
export {
  RestartDenied, RestartStepError, RestartUnsupported, CarryCapsRefused, RestartAborted, RestartExitError,
  type RestartResult, type Step, type StepPhase,
} from './errors';
export { childPlan, type ChildPlan, type ChildPlanOptions } from './child-plan';
export { nsChain, type ChainLevel } from './chain';
export { partialTarget, unrestoredText, type Unrestored } from './partial';
