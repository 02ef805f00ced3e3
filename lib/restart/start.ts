// restart(): start a program whose process carries the credentials of one task of an image.
//   1. choose the target: decode the image, pick the task, refuse what no restart can give back
//      (target.ts);
//   2. judge the restart against the CALLER's live creds (the restarter; the image's root
//      namespace is the caller's) and plan the child's ops (judge.ts, child-plan.ts), and choose
//      the way the child puts them on (linux-cr-path.ts); a denial throws RestartDenied and
//      nothing is started; dryRun stops here and returns the plan;
//   3. the addon forks, the child applies the restore plan op by op (the emulator's plan, the
//      very list the emulator played to judge and predict), reads its creds back, compares them
//      with the emulator's prediction and execs the program (childStarter, below);
//   4. the handle wires the program's streams and settles when it exits (handle.ts).
import * as path from 'path';
import type { Cred } from '../model';
import { encode, type Image } from '../format';
import { native, type NativeRestartOp, type ThreadCreds } from '../native/binding';
import { predictExec, type TaskOutcome } from '../emulator';
import { profileFor } from '../emulator/caller';
import type { ChildPlan } from './child-plan';
import { RestartStepError, stepErrorFrom, type Step } from './errors';
import { RestartHandle, type Starter } from './handle';
import { judge } from './judge';
import { choosePath } from './linux-cr-path';
import { resolveOptions, type ResolvedSpawnOptions, type RestartOptions, type RestartTestHooks } from './options';
import { withIdmapHelpers } from './idmap-helpers';
import type { Unrestored } from './partial';
import { chooseTarget } from './target';

/** The creds a program runs with after execve. */
export interface ExecCreds {
  cred: Cred;
  noNewPrivs: boolean;
}

export interface RestartPlanReport {
  task: number;
  command: string;
  args: string[];
  /** How the creds are put on: ops in the child, or sys_restart in the child. */
  path: 'ops' | 'linux-cr' | 'linux-cr-stand-in';
  /** Every judged step, allowed or not. */
  steps: Step[];
  /** The ops the child performs, in order. */
  ops: NativeRestartOp[];
  /** The creds as restored, before execve: the emulator's play of `ops` (the child verifies them). */
  restored: Cred;
  restoredNoNewPrivs: boolean;
  /** The creds the program will really run with after execve (the emulator's predictExec). */
  exec: ExecCreds;
  /** The emulator's outcome for this task (its restored cred and ecred). */
  emulated: TaskOutcome;
  /** What allowPartial left out of the image, each with the reason; [] for a whole restart. */
  unrestored: Unrestored[];
}

interface Prepared {
  report: RestartPlanReport;
  plan: ChildPlan;
  bytes: () => Uint8Array;
  /** The sys_restart number, on the linux-cr path. */
  sysRestartNr: number | undefined;
}

/** Steps 1 and 2: the target chosen, the restart judged, the child's path and ops chosen; nothing started. */
function prepare(input: Image | Uint8Array, command: string, args: readonly string[], opts: RestartOptions & RestartTestHooks, restarter: ThreadCreds): Prepared {
  const t = chooseTarget(input, opts, restarter);
  const judged = judge(t, restarter, opts);
  const { plan } = judged;
  const restored: Cred = plan.played.cred;
  const restoredNoNewPrivs = plan.played.noNewPrivs;
  const way = choosePath(t.image, withIdmapHelpers(plan.ops, judged.idmap, judged.maps), judged.extraAmbient, opts);
  return {
    report: {
      task: t.task,
      command,
      args: [...args],
      path: way.path,
      steps: judged.steps,
      ops: way.ops,
      restored,
      restoredNoNewPrivs,
      exec: { cred: predictExec(restored, restoredNoNewPrivs, undefined, profileFor(t.capLastCap)), noNewPrivs: restoredNoNewPrivs },
      emulated: judged.outcome,
      unrestored: t.unrestored,
    },
    plan: { ...plan, ops: way.ops },
    bytes: () => t.bytes ?? encode(t.image),
    sysRestartNr: way.sysRestartNr,
  };
}

function execCandidates(command: string, env: NodeJS.ProcessEnv): string[] {
  if (command.includes('/')) return [command];
  const PATH = env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  return PATH.split(':').map((d) => path.join(d || '.', command));
}

/** A read-back that differs from the prediction: the emulator and the kernel disagree; say so. */
function explainVerify(e: unknown, path: RestartPlanReport['path']): unknown {
  if (!(e instanceof RestartStepError) || e.phase !== 'verify' || !e.field) return e;
  const by = path === 'ops' ? 'its play of this very op list' : 'the image';
  return new RestartStepError(
    `${e.message} (expected: the emulator's prediction from ${by}; the kernel disagrees with the emulator)`,
    e.code, e.errno, e.phase, e.step, e.op, e.field, e.expected, e.actual, e.command,
  );
}

/** The caller's thread creds as a restarter. */
export function callerCreds(): ThreadCreds {
  return native().readThreadCreds();
}

/** Judges and plans a restart without starting anything (throws RestartDenied as restart does). */
export function planRestart(image: Image | Uint8Array, command: string, args: readonly string[] = [], options: RestartOptions = {}): RestartPlanReport {
  const { all } = resolveOptions(options, false);
  return prepare(image, command, args, all, callerCreds()).report;
}

export function restart(image: Image | Uint8Array, command: string, args: readonly string[] | undefined, options: RestartOptions & { dryRun: true }): RestartPlanReport;
export function restart(image: Image | Uint8Array, command: string, args?: readonly string[], options?: RestartOptions & { dryRun?: false }): RestartHandle;
export function restart(image: Image | Uint8Array, command: string, args: readonly string[] | undefined, options: RestartOptions): RestartHandle | RestartPlanReport;
/**
 * Starts `command` with the creds of one task of `image`. What is wrong with the call or can be
 * judged beforehand throws synchronously with nothing started (TypeError for an option,
 * RestartDenied, RestartUnsupported, CarryCapsRefused, ImageFormatError). A failure to start
 * (a missing program, a failure in the child before execve: RestartStepError; an aborted
 * `signal`: RestartAborted) comes as child_process reports it: an 'error' event and the
 * handle's rejection, the child already reaped.
 */
export function restart(
  image: Image | Uint8Array,
  command: string,
  args: readonly string[] = [],
  options: RestartOptions = {},
): RestartHandle | RestartPlanReport {
  return restartWith(image, command, args, options, false);
}

/** restart(), also taking the test hooks when `hooks` (lib/restart/testing.ts). */
export function restartWith(
  image: Image | Uint8Array,
  command: string,
  args: readonly string[] | undefined,
  options: (RestartOptions & RestartTestHooks) | undefined,
  hooks: boolean,
): RestartHandle | RestartPlanReport {
  if (typeof command !== 'string' || command.length === 0) throw new TypeError('restart: command must be a non-empty string');
  if (args === undefined || args === null) args = [];
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) throw new TypeError('restart: args must be an array of strings');
  const { all, spawn } = resolveOptions(options, hooks);
  const prep = prepare(image, command, args, all, callerCreds());
  if (all.dryRun) return prep.report;
  const h = new RestartHandle(command, args, spawn, childStarter(prep, command, args, spawn, all.linuxCrStandIn));
  h.unrestored = prep.report.unrestored;
  return h;
}

/** Step 3: the addon's spawn of the child that puts the creds on (ops or sys_restart), checks them and execs. */
function childStarter(prep: Prepared, command: string, args: readonly string[], spawn: ResolvedSpawnOptions,
  standIn: RestartTestHooks['linuxCrStandIn']): Starter {
  const envp = Object.entries(spawn.env)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  const needsImage = prep.report.path !== 'ops';
  return (stdio, onExit) => {
    try {
      return native().spawn({
        files: execCandidates(command, spawn.env),
        argv: [spawn.argv0 ?? command, ...args],
        envp,
        cwd: spawn.cwd,
        stdio,
        detached: spawn.detached,
        dieWithParent: spawn.dieWithParent,
        ops: prep.plan.ops,
        expect: prep.plan.expect,
        sysRestart: needsImage
          ? {
              image: prep.bytes(),
              standIn: Boolean(standIn),
              standInErrno: typeof standIn === 'object' ? standIn.errno : undefined,
              nr: prep.sysRestartNr,
            }
          : undefined,
        onExit,
      });
    } catch (e) {
      throw explainVerify(stepErrorFrom(e, prep.plan.ops, command), prep.report.path);
    }
  };
}
