// The op list restart()'s forked child runs, and what it reads back afterwards. The ops are the
// emulator's restore plan (lib/emulator/restore-plan.ts, the only plan builder) with the caller as
// the restarter (lib/emulator/caller.ts); the read-back is the emulator's prediction, its play of
// those very ops. Nothing is decided here: this turns the emulator's result into the addon's terms.
import { fullCapSet, type CapSet, type Cred } from '../model';
import { groupsAsRead, unmappedIds, withUnmapped } from '../model/unmapped';
import type { NativeExpect, NativeRestartOp, ThreadCreds } from '../native/binding';
import { playRestorePlan, type PlayedPlan } from '../emulator';
import { callerAsRestarter, profileFor } from '../emulator/caller';

export interface ChildPlan {
  ops: NativeRestartOp[];
  /** What the child must read back before execve: the emulator's prediction. */
  expect: NativeExpect;
  /** The emulator's play of `ops`: its verdict on each op and the creds after the last. */
  played: PlayedPlan;
}

export interface ChildPlanOptions {
  capLastCap: number;
  /** Raise these into ambient in addition to the image's ambient set (carryCaps). */
  extraAmbient?: CapSet;
  /** First-level maps newuidmap / newgidmap write (see lib/emulator/restore-plan.ts PlanOptions). */
  firstLevelHelpers?: { uid?: boolean; gid?: boolean };
}

/** Ops that take a child of the caller (`restarter`) to `target` (its real cred), and the read-back. */
export function childPlan(target: Cred, noNewPrivs: boolean, restarter: ThreadCreds, opts: ChildPlanOptions): ChildPlan {
  const extra = (opts.extraAmbient ?? 0n) & fullCapSet(opts.capLastCap);
  const cred = extra === 0n ? target : withUnmapped({ ...target, caps: { ...target.caps, ambient: target.caps.ambient | extra } }, unmappedIds(target));
  const played = playRestorePlan({ cred, noNewPrivs }, { cred: callerAsRestarter(restarter), noNewPrivs: restarter.noNewPrivs }, profileFor(opts.capLastCap), { firstLevelHelpers: opts.firstLevelHelpers });
  const c = played.cred;
  const expect: NativeExpect = {
    uid: c.uid, euid: c.euid, suid: c.suid, fsuid: c.fsuid,
    gid: c.gid, egid: c.egid, sgid: c.sgid, fsgid: c.fsgid,
    // As getgroups(2) reads them in the child's namespace: unmapped groups read 65534 each.
    groups: groupsAsRead(c),
    caps: { ...c.caps },
    securebits: c.securebits ?? undefined,
    noNewPrivs: played.noNewPrivs,
  };
  return { ops: played.ops, expect, played };
}
