// The test suite's entry to restart(): the same function, also taking the hooks that must not
// be part of the public options (a stand-in for sys_restart, newuidmap / newgidmap paths).
// Not exported from the package.
import type { Image } from '../format';
import type { RestartHandle } from './handle';
import type { RestartOptions, RestartTestHooks } from './options';
import { restartWith, type RestartPlanReport } from './start';

export type { RestartTestHooks };

export function restartForTests(image: Image | Uint8Array, command: string, args: readonly string[] | undefined, options: RestartOptions & RestartTestHooks & { dryRun: true }): RestartPlanReport;
export function restartForTests(image: Image | Uint8Array, command: string, args?: readonly string[], options?: RestartOptions & RestartTestHooks & { dryRun?: false }): RestartHandle;
export function restartForTests(image: Image | Uint8Array, command: string, args: readonly string[] | undefined, options: RestartOptions & RestartTestHooks): RestartHandle | RestartPlanReport;
export function restartForTests(image: Image | Uint8Array, command: string, args?: readonly string[], options?: RestartOptions & RestartTestHooks): RestartHandle | RestartPlanReport {
  return restartWith(image, command, args, options, true);
}
