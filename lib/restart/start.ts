// restart(): start a program whose process carries the credentials of one task of an image.
//   1. decode and validate the image;
//   2. judge the restart against the CALLER's live creds (the restarter; the image's root
//      namespace is the caller's); a denial throws RestartDenied and nothing is started;
//      dryRun stops here and returns the plan;
//   3. the addon forks, the child applies the restore plan op by op (the emulator's plan, the
//      very list the emulator played to judge and predict);
//   4. it reads its creds back and compares them with the emulator's prediction;
//   5. it execs the program.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CAP, SECBIT, capNames, sameCred, securebitNames, type Cred, type TaskCreds } from '../model';
import { type IdField, groupKeys, ID_FIELDS, idKey, idKind, OVERFLOW_ID, unmappedIds } from '../model/unmapped';
import { toKernelId } from '../model/idmap';
import { partialTarget, type Unrestored } from './partial';
import { decode, encode, type Image } from '../format';
import { LINUX_CR_SYSCALLS_ENV, LinuxCrSyscallsUnknown, linuxCrEraOf, linuxCrSyscallsHere } from '../native/linux-cr-syscalls';
import { native, type NativeRestartOp, type ThreadCreds } from '../native/binding';
import { Emulator, predictExec, type Subordinate, type TaskOutcome } from '../emulator';
import { callerAsRestarter, profileFor } from '../emulator/caller';
import { firstLevelMaps, nsChain } from './chain';
import { CarryCapsRefused, RestartDenied, RestartStepError, RestartUnsupported, stepErrorFrom, type Step } from './errors';
import { RestartHandle } from './handle';
import { resolveOptions, type RestartOptions, type RestartTestHooks } from './options';
import { firstLevelHelpersOf, idmapHelpersFor, subordinateOf, withIdmapHelpers } from './idmap-helpers';
import { childPlan, type ChildPlan } from './child-plan';

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

function selectTask(image: Image, opts: RestartOptions): number {
  if (image.tasks.length === 0) throw new RestartUnsupported('the image holds no task');
  if (opts.pid !== undefined) {
    const i = image.tasks.findIndex((t) => t.pids.vpid === opts.pid);
    if (i < 0) throw new RestartUnsupported(`the image has no task with pid ${opts.pid}`);
    return i;
  }
  const i = opts.task ?? 0;
  if (!Number.isInteger(i) || i < 0 || i >= image.tasks.length)
    throw new RestartUnsupported(`task ${i}: the image has ${image.tasks.length} task(s)`);
  return i;
}

/** The caps carryCaps moves into ambient; throws CarryCapsRefused where the rules forbid it. */
function carriedCaps(cred: Cred): bigint {
  const want = cred.caps.permitted & ~cred.caps.ambient;
  if (want === 0n) return 0n;
  const sb = cred.securebits ?? 0;
  if (sb & SECBIT.NO_CAP_AMBIENT_RAISE)
    throw new CarryCapsRefused(
      `carryCaps: SECBIT_NO_CAP_AMBIENT_RAISE is set in the image, so ${capNames(want).join(', ')} cannot be raised into ambient`,
      capNames(want),
    );
  const notInh = want & ~cred.caps.inheritable;
  if (notInh)
    throw new CarryCapsRefused(
      `carryCaps: ${capNames(notInh).join(', ')} are permitted but not inheritable in the image; ambient needs both`,
      capNames(notInh),
    );
  return want;
}

function execCandidates(command: string, env: NodeJS.ProcessEnv): string[] {
  if (command.includes('/')) return [command];
  const PATH = env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  return PATH.split(':').map((d) => path.join(d || '.', command));
}

function toImage(image: Image | Uint8Array): { image: Image; bytes: Uint8Array | null } {
  if (image instanceof Uint8Array) return { image: decode(image), bytes: image };
  return { image, bytes: null };
}

interface Prepared {
  report: RestartPlanReport;
  plan: ChildPlan;
  bytes: () => Uint8Array;
  target: TaskCreds;
  /** The sys_restart number, on the linux-cr path. */
  sysRestartNr: number | undefined;
}

/**
 * Ids the task's namespace does not map whose outer id the image does not record (taken before
 * UNMAPPED_EXT, or by a reader that could not see them): no one can say what to restore.
 */
function unknownOuterIds(c: Cred): string[] {
  const ns = c.user.ns;
  if (!ns.creator || (toKernelId(ns, OVERFLOW_ID, 'uid') >= 0 && toKernelId(ns, OVERFLOW_ID, 'gid') >= 0)) return [];
  const u = unmappedIds(c);
  const out: string[] = [];
  for (const f of ID_FIELDS)
    if (c[f] === OVERFLOW_ID && u?.[f] === undefined && toKernelId(ns, OVERFLOW_ID, idKind(f)) < 0) out.push(f);
  if (c.groups.gids.includes(OVERFLOW_ID) && !u?.groups && toKernelId(ns, OVERFLOW_ID, 'gid') < 0) out.push('groups');
  return out;
}

function prepare(input: Image | Uint8Array, command: string, args: readonly string[], opts: RestartOptions & RestartTestHooks, restarter: ThreadCreds): Prepared {
  const decoded = toImage(input);
  const bytes = decoded.bytes;
  let image = decoded.image;
  const task = selectTask(image, opts);
  let target = image.tasks[task];
  if (!sameCred(target.cred, target.ecred))
    throw new RestartUnsupported(
      `task ${task}: its effective cred differs from its real cred (an in-kernel override); a program started from user space has one cred`,
    );
  const unknown = unknownOuterIds(target.cred);
  if (unknown.length)
    throw new RestartUnsupported(
      `task ${task}: ${unknown.join(', ')}: ${OVERFLOW_ID} for want of a mapping in the task's user namespace, and the image does not record the ids behind it (no UNMAPPED_EXT record): groups or ids with no outer id cannot be restored`,
    );
  const capLastCap = kernelCapLastCap();
  let unrestored: Unrestored[] = [];
  if (opts.allowPartial) {
    const cut = partialTarget(target, restarter, capLastCap);
    unrestored = cut.unrestored;
    if (unrestored.length) {
      target = cut.task;
      image = { ...image, tasks: image.tasks.map((t, i) => (i === task ? target : t)) };
    }
  }
  // Two judgements, both must allow it, and every refused step of either is listed:
  // (1) the emulator plays the restart as the seed would (the seed's rules on today's kernel),
  //     the caller as the restarter: its steps explain a refusal in the seed's terms;
  // (2) the emulator plays the very op list the child will run (the one restore plan), op by op
  //     from the caller's creds: a refused op, or a result other than the image's cred, is a
  //     denial. The first level's maps (who writes them: the caller, or newuidmap / newgidmap,
  //     and whether they may) are decided once, by firstLevelMaps, for the plan and the child.
  // Played even when (1) refuses, so the op-level reasons are listed too. Nothing is started.
  const idmap = idmapHelpersFor(target.cred, restarter, opts.idmapHelpers);
  const emulated = emulate(image, restarter, capLastCap, subordinateOf(idmap));
  const outcome: TaskOutcome | undefined = emulated.tasks[task];
  const steps: Step[] = emulated.steps.filter((s) => s.task === undefined || s.task === task);
  const seedDenied = !outcome || !outcome.ok;
  let extraAmbient = 0n;
  try {
    if (opts.carryCaps) extraAmbient = carriedCaps(target.cred);
  } catch (e) {
    if (!seedDenied) throw e; // a denial outranks a carryCaps refusal; the plan is played without it
  }
  const levels = nsChain(target.cred);
  const maps = levels.length ? firstLevelMaps(levels[0], restarter, idmap) : undefined;
  for (const f of maps?.refused ?? [])
    steps.push({ task, op: 'unshare_user', rule: f.rule, allowed: false, errno: 'EPERM', message: `user namespace 1 (creator uid ${levels[0].creatorUid}): ${f.message}` });
  const plan = childPlan(target.cred, target.noNewPrivs, restarter, { capLastCap, extraAmbient, firstLevelHelpers: firstLevelHelpersOf(maps) });
  const played = plan.played;
  for (const s of played.steps) s.task = task;
  // Up to the first refused op (where the child would stop), then every later refused op: each
  // played from the creds the ops before it left (a refused op changes nothing).
  // A loop, not push(...spread): a deep chain's plan has more steps than a call has arguments.
  played.steps.forEach((s, i) => {
    if (played.refused < 0 || i <= played.refused || !s.allowed) steps.push(s);
  });
  const off = played.refused < 0 ? planResult(target, extraAmbient, played.cred, played.noNewPrivs, restarter, task) : [];
  steps.push(...off);
  if (seedDenied || maps?.refused.length || played.refused >= 0 || off.length) {
    // A sandboxed caller: say what the opt-in would leave out.
    const cut = opts.allowPartial ? [] : partialTarget(target, restarter, capLastCap).unrestored;
    if (cut.length)
      steps.push({ task, op: 'restore plan', rule: 'plan.partial-possible', allowed: false, errno: 'EPERM',
        message: `the caller cannot give back the image's ${cut.map((u) => `${u.field} ${u.field === 'no_new_privs' ? 'clear' : u.missing.join(', ')}`).join('; ')}: ` +
          'allowPartial (restart --allow-partial) restores the rest and lists each field it leaves out' });
    throw new RestartDenied(steps);
  }

  const restored: Cred = plan.played.cred;
  const restoredNoNewPrivs = plan.played.noNewPrivs;
  const standIn = opts.linuxCrStandIn;
  let sysRestartNr: number | undefined;
  let pathKind: RestartPlanReport['path'] = 'ops';
  let ops = withIdmapHelpers(plan.ops, idmap, maps);
  if (standIn) {
    pathKind = 'linux-cr-stand-in';
    ops = [{ op: 'sys_restart' }];
  } else if (fromThisLinuxCrKernel(image, opts.sysRestartNr)) {
    pathKind = 'linux-cr';
    ops = [{ op: 'sys_restart' }];
    sysRestartNr = sysRestartNrHere(opts.sysRestartNr);
  }
  if (pathKind !== 'ops' && extraAmbient !== 0n)
    ops = [...ops, ...capNames(extraAmbient).map((n) => ({ op: 'ambient_raise' as const, cap: CAP[n.slice(4)] }))];
  return {
    report: {
      task,
      command,
      args: [...args],
      path: pathKind,
      steps,
      ops,
      restored,
      restoredNoNewPrivs,
      exec: { cred: predictExec(restored, restoredNoNewPrivs, undefined, profileFor(capLastCap)), noNewPrivs: restoredNoNewPrivs },
      emulated: outcome,
      unrestored,
    },
    plan: { ...plan, ops },
    bytes: () => bytes ?? encode(image),
    target,
    sysRestartNr,
  };
}

/** sys_restart's number on this kernel (which has it): the option, else env, else the table. */
function sysRestartNrHere(option: number | undefined): number {
  try {
    if (option !== undefined) {
      // The override still may not name a number kallsyms shows is another syscall.
      return linuxCrSyscallsHere({ checkpoint: option, restart: option }).restart;
    }
    return linuxCrSyscallsHere().restart;
  } catch (e) {
    if (e instanceof LinuxCrSyscallsUnknown) throw new RestartUnsupported(`the kernel has sys_restart, but its number is not known: ${e.message}`);
    throw e;
  }
}

/**
 * Where the emulator's play of the plan, every op allowed, ends elsewhere than the image's cred
 * (something no call can do, e.g. add back a bounding bit): one refused step per field, naming
 * the field and the ids or bits that differ.
 */
function planResult(target: TaskCreds, extraAmbient: bigint, got: Cred, nnp: boolean, r: ThreadCreds, task: number): Step[] {
  const want = target.cred;
  const out: Step[] = [];
  const off = (field: string, message: string) =>
    out.push({ task, op: 'restore plan', rule: `plan.result.${field}`, allowed: false, errno: 'EPERM',
      message: `restore plan: every op is allowed, but ${message}` });
  // Compared as keys (lib/model/unmapped.ts): an unmapped id reads 65534 like a mapped 65534.
  // The image's root namespace is the caller's, so the image's kernel ids are the caller's.
  const idText = (c: Cred, k: IdField) => (idKey(c, k) < 0 ? `${c[k]} (unmapped: ${idKind(k)} ${-1 - idKey(c, k)} outside)` : `${c[k]}`);
  const groupText = (x: number) => (x < 0 ? `${OVERFLOW_ID} (unmapped: gid ${-1 - x} outside)` : `${x}`);
  for (const k of ID_FIELDS)
    if (idKey(want, k) !== idKey(got, k)) off(k, `the op list would leave ${k} at ${idText(got, k)}; the image has ${idText(want, k)}`);
  const wg = [...groupKeys(want)].sort((a, b) => a - b).map(groupText);
  const gg = [...groupKeys(got)].sort((a, b) => a - b).map(groupText);
  if (wg.join() !== gg.join()) {
    const missing = wg.filter((g) => !gg.includes(g));
    const extra = gg.filter((g) => !wg.includes(g));
    off('groups', `the op list would leave the supplementary groups [${gg.join(',')}], the image has [${wg.join(',')}]` +
      (missing.length ? `; without ${missing.join(', ')}` : '') + (extra.length ? `; with ${extra.join(', ')}, which the image has not` : ''));
  }
  const wantCaps = { ...want.caps, ambient: want.caps.ambient | extraAmbient };
  for (const k of ['inheritable', 'permitted', 'effective', 'bounding', 'ambient'] as const) {
    if (wantCaps[k] === got.caps[k]) continue;
    const missing = wantCaps[k] & ~got.caps[k];
    const extra = got.caps[k] & ~wantCaps[k];
    const parts: string[] = [];
    if (missing) {
      const lacking = k === 'bounding' ? missing & ~r.caps.bounding : 0n;
      parts.push(`without ${capNames(missing).join(', ')}, which the image has` +
        (lacking ? ` (the caller's bounding set lacks ${capNames(lacking).join(', ')}, and no call can add a bit back to a bounding set)` : ''));
    }
    if (extra) parts.push(`with ${capNames(extra).join(', ')}, which the image has not`);
    off(k, `the op list would leave the ${k} capability set ${parts.join(', and ')}`);
  }
  if (want.securebits !== null && want.securebits !== got.securebits)
    off('securebits', `the op list would leave securebits 0x${(got.securebits ?? 0).toString(16)} (${securebitNames(got.securebits ?? 0).join(', ') || 'none'}); ` +
      `the image has 0x${want.securebits.toString(16)} (${securebitNames(want.securebits).join(', ') || 'none'})`);
  if (target.noNewPrivs !== nnp)
    off('no_new_privs', nnp
      ? 'no_new_privs would stay set (the caller has it, and it cannot be cleared); the image does not have it'
      : 'no_new_privs would stay clear; the image has it set');
  return out;
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

let capLastCapCache: number | undefined;
/** /proc/sys/kernel/cap_last_cap, read once (the full probe reads /proc/kallsyms: too slow per restart). */
function kernelCapLastCap(): number {
  capLastCapCache ??= Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  return capLastCapCache;
}

/** The emulator's restart of the whole image, the caller's live creds as the restarter. */
function emulate(image: Image, r: ThreadCreds, lastCap: number, subordinate?: Subordinate) {
  const emu = new Emulator(profileFor(lastCap));
  const me = emu.spawnTask({ ...callerAsRestarter(r), user: emu.user(r.uid) }, { noNewPrivs: r.noNewPrivs });
  return emu.restart(image, me, { subordinate, judgeOnly: true });
}

/**
 * sys_restart only takes images that this very kernel's sys_checkpoint wrote. The cheap checks
 * first: the uts strings, then whether a number could be known at all (an override, or a
 * release of the series' eras); only then the kallsyms scan (a tenth of a second, once).
 */
function fromThisLinuxCrKernel(image: Image, sysRestartNr: number | undefined): boolean {
  if (image.header.uts.release !== os.release() || image.header.uts.version !== os.version()) return false;
  if (sysRestartNr === undefined && !process.env[LINUX_CR_SYSCALLS_ENV] && !linuxCrEraOf(process.arch, os.release())) return false;
  return native().linuxCrAvailable();
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
  const envp = Object.entries(spawn.env)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  const standIn = all.linuxCrStandIn;
  const needsImage = prep.report.path !== 'ops';
  const h = new RestartHandle(command, args, spawn, (stdio, onExit) => {
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
  });
  h.unrestored = prep.report.unrestored;
  return h;
}
