// The credential emulator: the kernel's credential rules in TypeScript, under a chosen kernel
// profile (the seed's 2.6.34, bugs named, or today's). See docs/emulator.md.
import type { ExecFile } from '../model/ops';
import type { Cred } from '../model/types';
import { predictExec as predict } from './exec';
import { type KernelProfile, type ProfileName, resolveProfile } from './profile';

export { kernelProfile, MODERN_DEFAULT_LAST_CAP, type KernelProfile, type ProfileName, type SeedBugs } from './profile';
export { Emulator, type EmuTask, type EmuRestartOutcome, type RestartOptions as EmuRestartOptions } from './emulator';
export type { Step } from './step';
export type { TaskOutcome, RestartOutcome } from './sys-restart';
export { RestartDenied, EmulatorError } from './errors';
export { ExecDenied } from './exec';
export { restorePlan, playRestorePlan, type PlanRestarter, type PlanOptions as RestorePlanOptions, type PlayedPlan, type RestoreOp } from './restore-plan';
export type { LiveObjects } from './objects';
export type { CheckpointOptions } from './checkpoint';
export { nsCapable, nsLevel, helperMapRule, rangeCovered, type IdRange, type Subordinate } from './userns';
export { kernelId } from '../model/idmap';
export { OVERFLOW_ID } from '../model/unmapped';

/** The creds a program really runs with after execve (throws ExecDenied when execve fails). */
export function predictExec(cred: Cred, noNewPrivs: boolean, file: ExecFile | undefined, profile: KernelProfile | ProfileName): Cred {
  return predict(cred, noNewPrivs, file, resolveProfile(profile));
}
