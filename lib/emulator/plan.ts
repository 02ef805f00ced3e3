// restorePlan(): the ordered CredOps that turn a restarter into a target task's real cred on a
// real kernel, one syscall at a time. It differs from restart()'s single authorization against
// the restarter "as it was" in one way only: each call is checked against the creds of that
// moment, so the plan keeps the capabilities later calls need (NO_SETUID_FIXUP or KEEP_CAPS
// over the uid change, an interim capset) and drops them last.
import { capBit, hasCap } from '../model/capabilities';
import type { CredOp } from '../model/ops';
import type { Cred, TaskCreds, UserNamespace } from '../model/types';
import { CAP_SETPCAP, CAP_SETUID, SECBIT, bits } from './caps';
import { Kernel } from './kernel';
import { ObjectTable } from './objects';
import { type KernelProfile, type ProfileName, resolveProfile } from './profile';
import { idUpTo, kernelId } from './userns';

export interface PlanRestarter {
  cred: Cred;
  noNewPrivs: boolean;
}

const sortedSet = (xs: readonly number[]): number[] => [...new Set(xs)].sort((a, b) => a - b);
const sameList = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export function restorePlan(target: TaskCreds, restarter: PlanRestarter, profileArg: KernelProfile | ProfileName): CredOp[] {
  const profile = resolveProfile(profileArg);
  const sim = new Kernel(profile, new ObjectTable());
  const ops: CredOp[] = [];
  let cur = restarter.cred;
  let nnp = restarter.noNewPrivs;
  const R = restarter.cred;
  const emit = (op: CredOp): void => {
    ops.push(op);
    const r = sim.apply(cur, nnp, op);
    cur = r.cred;
    nnp = r.noNewPrivs;
  };
  const T = target.cred;

  /** Before a uid change that leaves root, keep the capabilities (cap_emulate_setxuid). */
  const keepCapsOverUidChange = (ruid: number, euid: number, suid: number): boolean => {
    const oldRoot = cur.uid === 0 || cur.euid === 0 || cur.suid === 0;
    const newRoot = ruid === 0 || euid === 0 || suid === 0;
    const loses = (oldRoot && !newRoot && !(bits(cur) & SECBIT.KEEP_CAPS)) || (cur.euid === 0 && euid !== 0);
    if (!loses || cur.caps.permitted === 0n || bits(cur) & SECBIT.NO_SETUID_FIXUP) return false;
    if (hasCap(cur.caps.effective, CAP_SETPCAP) && !(bits(cur) & SECBIT.NO_SETUID_FIXUP_LOCKED)) {
      emit({ op: 'set_securebits', bits: bits(cur) | SECBIT.NO_SETUID_FIXUP });
      return false;
    }
    if (!(bits(cur) & SECBIT.KEEP_CAPS) && !(bits(cur) & SECBIT.KEEP_CAPS_LOCKED) && oldRoot && !newRoot) {
      emit({ op: 'set_keepcaps', on: true });
      return true;
    }
    return false;
  };

  // 1. One unshare per namespace level between the restarter's namespace and the target's.
  const chain: UserNamespace[] = [];
  for (let ns: UserNamespace | null = T.user.ns; ns && ns.creator; ns = ns.creator.ns) chain.unshift(ns);
  const imageRoot = chain.length ? chain[0].creator!.ns : T.user.ns;
  let groupsSet = false;
  const want = sortedSet(T.groups.gids);
  for (let i = 0; i < chain.length; i++) {
    const ns = chain[i];
    const owner = ns.creator!.uid;
    if (profile.idMaps) {
      // Below a namespace that denies setgroups (or has no gid_map) groups can only be inherited:
      // set them here, in this level's ids, before unsharing.
      if (!groupsSet && (ns.setgroups === 'deny' || !ns.gidMap?.length)) {
        groupsSet = true;
        const level = i === 0 ? imageRoot : chain[i - 1];
        const here = T.groups.gids.map((g) => idUpTo(T.user.ns, g, level, 'gid'));
        if (here.every((g) => g >= 0) && !sameList(cur.groups.gids, sortedSet(here))) emit({ op: 'setgroups', gids: sortedSet(here) });
      }
      if (!(kernelId(cur.user.ns, cur.egid, 'gid') >= 0) && ns.creator!.ns.gidMap?.length) {
        emit({ op: 'setresgid', rgid: -1, egid: ns.creator!.ns.gidMap[0].inside, sgid: -1 });
      }
      if (cur.euid !== owner) {
        const temp = keepCapsOverUidChange(cur.uid, owner, cur.suid);
        emit({ op: 'setresuid', ruid: -1, euid: owner, suid: -1 });
        if (temp) emit({ op: 'set_keepcaps', on: false });
      }
      emit({
        op: 'unshare_user',
        ...(ns.setgroups ? { setgroups: ns.setgroups } : {}),
        ...(ns.uidMap ? { uidMap: ns.uidMap } : {}),
        ...(ns.gidMap ? { gidMap: ns.gidMap } : {}),
      });
    } else {
      // 2.6.34: the creator is the real uid's user.
      if (cur.uid !== owner) {
        keepCapsOverUidChange(owner, cur.euid, cur.suid);
        emit({ op: 'setresuid', ruid: owner, euid: -1, suid: -1 });
      }
      emit({ op: 'unshare_user' });
    }
  }

  // Whose capabilities later calls may lean on: the restarter's, or (below its namespace) the
  // fresh creds the last unshare gave.
  const A = chain.length && profile.idMaps ? cur : R;

  // 2. Groups, then gids (while the restarter's capabilities are intact).
  if (!sameList(cur.groups.gids, want)) emit({ op: 'setgroups', gids: want });
  if (cur.gid !== T.gid || cur.egid !== T.egid || cur.sgid !== T.sgid) {
    emit({ op: 'setresgid', rgid: T.gid, egid: T.egid, sgid: T.sgid });
  }
  if (cur.fsgid !== T.fsgid) emit({ op: 'setfsgid', fsgid: T.fsgid });

  // 3. Uids, keeping capabilities across the change.
  let tempKeep = false;
  if (cur.uid !== T.uid || cur.euid !== T.euid || cur.suid !== T.suid) {
    tempKeep = keepCapsOverUidChange(T.uid, T.euid, T.suid);
    emit({ op: 'setresuid', ruid: T.uid, euid: T.euid, suid: T.suid });
  }
  if (tempKeep) emit({ op: 'set_keepcaps', on: false });

  // 4. Interim capset: the target's inheritable set, with the capabilities the next calls need
  // (only those the restarter had in effect, so the plan never exceeds what restart allows).
  const needSetpcap = (cur.caps.bounding & ~T.caps.bounding) !== 0n || (T.securebits !== null && T.securebits !== bits(cur));
  let extra = 0n;
  if (needSetpcap && hasCap(A.caps.effective, CAP_SETPCAP)) extra |= capBit(CAP_SETPCAP);
  if (T.fsuid !== T.uid && T.fsuid !== T.euid && T.fsuid !== T.suid && hasCap(A.caps.effective, CAP_SETUID)) extra |= capBit(CAP_SETUID);
  const interimE = cur.caps.effective | (extra & cur.caps.permitted);
  if (T.caps.inheritable !== cur.caps.inheritable || interimE !== cur.caps.effective) {
    emit({ op: 'capset', inheritable: T.caps.inheritable, permitted: cur.caps.permitted, effective: interimE });
  }
  if (cur.fsuid !== T.fsuid) emit({ op: 'setfsuid', fsuid: T.fsuid });

  // 5. Ambient (needs the cap in permitted and inheritable, before any NO_CAP_AMBIENT_RAISE).
  if (profile.ambient) {
    for (let i = 0; i <= profile.lastCap; i++) {
      const wanted = hasCap(T.caps.ambient, i);
      const have = hasCap(cur.caps.ambient, i);
      if (wanted && !have) emit({ op: 'ambient_raise', cap: i });
      else if (!wanted && have) emit({ op: 'ambient_lower', cap: i });
    }
  }

  // 6. Bounding set, then the final securebits (both need CAP_SETPCAP), then the final capset.
  for (let i = 0; i <= profile.lastCap; i++) {
    if (hasCap(cur.caps.bounding, i) && !hasCap(T.caps.bounding, i)) emit({ op: 'capbset_drop', cap: i });
  }
  if (T.securebits !== null && T.securebits !== bits(cur)) emit({ op: 'set_securebits', bits: T.securebits });
  const c = cur.caps;
  if (c.inheritable !== T.caps.inheritable || c.permitted !== T.caps.permitted || c.effective !== T.caps.effective) {
    emit({ op: 'capset', inheritable: T.caps.inheritable, permitted: T.caps.permitted, effective: T.caps.effective });
  }
  if (profile.noNewPrivs && target.noNewPrivs && !nnp) emit({ op: 'set_no_new_privs' });
  return ops;
}
