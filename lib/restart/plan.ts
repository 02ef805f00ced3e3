// The op list restart()'s forked child runs, and what it reads back afterwards. The ops are the
// emulator's restore plan (lib/emulator/plan.ts, the only plan builder) with the caller as the
// restarter; the read-back is the emulator's prediction, its play of those very ops. Nothing is
// decided here: this adapts the caller's thread creds to the emulator and the result to the addon.
import { fullCapSet, type CapSet, type Cred, type UserNamespace } from '../model';
import { groupsAsRead, unmappedIds, withUnmapped } from '../model/unmapped';
import type { NativeExpect, NativeRestartOp, ThreadCreds } from '../native/binding';
import { kernelProfile, playRestorePlan, type KernelProfile, type PlayedPlan } from '../emulator';

/** The restarter, as the addon reads the caller's thread. */
export type Restarter = ThreadCreds;

export interface RestorePlan {
  ops: NativeRestartOp[];
  /** What the child must read back before execve: the emulator's prediction. */
  expect: NativeExpect;
  /** The emulator's play of `ops`: its verdict on each op and the creds after the last. */
  played: PlayedPlan;
}

export interface PlanOptions {
  capLastCap: number;
  /** Raise these into ambient in addition to the image's ambient set (carryCaps). */
  extraAmbient?: CapSet;
  /** First-level maps newuidmap / newgidmap write (see lib/emulator/plan.ts PlanOptions). */
  firstLevelHelpers?: { uid?: boolean; gid?: boolean };
}

/** The caller's namespace, as the emulator sees it: the root of the image's namespaces. */
const CALLER_NS: UserNamespace = Object.freeze({ creator: null });

const profiles = new Map<number, KernelProfile>();
/** The modern profile for this kernel's last cap, built once. */
export function profileFor(lastCap: number): KernelProfile {
  let p = profiles.get(lastCap);
  if (!p) profiles.set(lastCap, (p = kernelProfile('modern', { lastCap })));
  return p;
}

/** The caller's thread creds as an emulator cred in the caller's namespace. */
export function restarterCred(r: Restarter): Cred {
  return {
    uid: r.uid, euid: r.euid, suid: r.suid, fsuid: r.fsuid,
    gid: r.gid, egid: r.egid, sgid: r.sgid, fsgid: r.fsgid,
    groups: { gids: [...r.groups] },
    user: { uid: r.uid, ns: CALLER_NS },
    caps: { ...r.caps },
    securebits: r.securebits,
  };
}

/** Ops that take a child of `restarter` to `target` (its real cred), and the read-back. */
export function restorePlan(target: Cred, noNewPrivs: boolean, restarter: Restarter, opts: PlanOptions): RestorePlan {
  const extra = (opts.extraAmbient ?? 0n) & fullCapSet(opts.capLastCap);
  const cred = extra === 0n ? target : withUnmapped({ ...target, caps: { ...target.caps, ambient: target.caps.ambient | extra } }, unmappedIds(target));
  const played = playRestorePlan({ cred, noNewPrivs }, { cred: restarterCred(restarter), noNewPrivs: restarter.noNewPrivs }, profileFor(opts.capLastCap), { firstLevelHelpers: opts.firstLevelHelpers });
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
