// Restart for real: a program whose process carries an image's credentials.
export { restart, planRestart, callerCreds, type RestartOptions, type RestartPlanReport, type StdioOption, type ExecCreds } from './restart';
export { RestartHandle, type RestartExit } from './handle';
export { RestartDenied, RestartStepError, RestartUnsupported, CarryCapsRefused, type Step, type StepPhase } from './errors';
export { restorePlan, type RestorePlan, type Restarter, type PlanOptions } from './plan';
export { nsChain, type ChainLevel } from './chain';
export { partialTarget, unrestoredText, type Unrestored } from './partial';
